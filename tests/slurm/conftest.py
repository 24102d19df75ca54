"""A real single-node slurm cluster (munged + slurmctld + slurmd from Debian packages), started once per session.

Everything lives in a temporary directory: its own munge key and socket, its own ports, state and spool
directories, and two fake GPUs (character devices with NVIDIA's major number) so jobs can ask for
`--gpus-per-node=2` exactly as on a GPU cluster. The daemons run in the foreground as our children and are
stopped by pid at the end, even when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

PACKAGES = ("slurm-wlm", "munge")
FAKE_GPUS = 2
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ensure_installed() -> None:
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "sbatch", "mungekey")):
        return
    # CI runs tests/setup_system.sh first; this covers a developer machine where it was not run.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600, env=env)
    proc = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if proc.returncode != 0:
        pytest.fail(f"slurm is not installed and `apt-get install {' '.join(PACKAGES)}` failed:\n{proc.stderr[-2000:]}")


def _node_hardware() -> dict[str, str]:
    """CPU layout and memory of this machine as slurmd reports it (`slurmd -C`)."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30, check=True).stdout
    fields = dict(re.findall(r"(\w+)=(\S+)", out.splitlines()[0]))
    keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    return {key: fields[key] for key in keep}


@dataclass
class SlurmCluster:
    """Handle on the running test cluster: its environment and helpers to submit and follow jobs."""

    root: Path
    node: str
    env: dict[str, str]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 60, check: bool = True, **kw) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def sbatch(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
        """Submit with `sbatch --parsable ARGS` from `cwd`; returns the job id."""
        proc = subprocess.run(
            ["sbatch", "--parsable", *args],
            env={**self.env, **(env or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0:
            raise AssertionError(f"sbatch {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc.stdout.strip().split(";")[0]

    def job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as a dict (JobState, Restarts, ExitCode, Command, ...)."""
        out = self.run("scontrol", "show", "job", "-o", job_id).stdout
        return dict(re.findall(r"(\w+)=(\S*)", out))

    def wait(self, job_id: str, timeout: float, until=FINISHED) -> str:
        """Poll until the job's state is in `until`; returns that state."""
        deadline = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < deadline:
            state = self.job(job_id).get("JobState", "?")
            if state in until:
                return state
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} still {state} after {timeout:.0f} s\n{self.logs()}")

    def logs(self, lines: int = 40) -> str:
        text = []
        for name in ("slurmctld", "slurmd"):
            path = self.root / "log" / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                text.append(f"--- {path} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(text)

    def queue(self) -> list[str]:
        """Ids of jobs still known to the controller as pending or running."""
        proc = self.run("squeue", "-h", "-o", "%i", check=False, timeout=20)
        return proc.stdout.split() if proc.returncode == 0 else []


def _write_config(root: Path, node: str, hw: dict[str, str]) -> Path:
    for sub in ("munge", "state", "spool", "log", "dev"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o700)
    for i in range(FAKE_GPUS):
        os.mknod(root / "dev" / f"nvidia{i}", 0o666 | 0o020000, os.makedev(195, i))
    conf = root / "slurm.conf"
    ctl_port, node_port = _free_port(), _free_port()
    node_hw = " ".join(f"{k}={v}" for k, v in hw.items())
    conf.write_text(
        f"""\
ClusterName=distillery-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctl_port}
SlurmdPort={node_port}
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket={root}/munge/munge.socket,cred_expire=5
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
ReturnToService=2
KillWait=5
MinJobAge=600
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName={node} NodeAddr=127.0.0.1 {node_hw} Gres=gpu:{FAKE_GPUS} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
    )
    (root / "gres.conf").write_text(f"NodeName={node} Name=gpu File={root}/dev/nvidia[0-{FAKE_GPUS - 1}]\n")
    return conf


def _stop(procs: dict[str, subprocess.Popen]) -> None:
    for name in ("slurmd", "slurmctld", "munged"):  # reverse start order: clients before the auth daemon
        proc = procs.get(name)
        if proc is None or proc.poll() is not None:
            continue
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd for one node with 2 fake GPUs; yield a SlurmCluster; stop them."""
    _ensure_installed()
    if os.geteuid() != 0:
        pytest.fail("the slurm tests start slurmd, which must run as root (CI runs as root)")
    root = tmp_path_factory.mktemp("slurm")
    node = socket.gethostname().split(".")[0]
    conf = _write_config(root, node, _node_hardware())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}  # pytest may itself run in a job
    env["SLURM_CONF"] = str(conf)
    cluster = SlurmCluster(root=root, node=node, env=env)
    logs = root / "log"
    try:
        subprocess.run(["mungekey", "-c", "-k", str(root / "munge/munge.key")], check=True, timeout=30)
        cluster.procs["munged"] = subprocess.Popen(
            ["munged", "-F", "--force", f"--socket={root}/munge/munge.socket", f"--key-file={root}/munge/munge.key",
             f"--pid-file={root}/munge/munged.pid", f"--seed-file={root}/munge/munged.seed",
             f"--log-file={logs}/munged.log"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait_for(lambda: (root / "munge/munge.socket").exists(), 15, "munged socket", cluster)
        cluster.procs["slurmctld"] = subprocess.Popen(
            ["slurmctld", "-D", "-i", "-f", str(conf)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        _wait_for(
            lambda: cluster.run("scontrol", "ping", check=False, timeout=10).returncode == 0, 30, "slurmctld", cluster
        )
        cluster.procs["slurmd"] = subprocess.Popen(
            ["slurmd", "-D", "-N", node, "-f", str(conf)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        _wait_for(
            lambda: cluster.run("sinfo", "-h", "-o", "%T", check=False, timeout=10).stdout.strip() == "idle",
            60,
            "node idle",
            cluster,
        )
        yield cluster
    finally:
        for job_id in cluster.queue() if "slurmctld" in cluster.procs else []:
            cluster.run("scancel", job_id, check=False)
        deadline = time.monotonic() + 30
        while (
            "slurmctld" in cluster.procs and cluster.procs["slurmctld"].poll() is None and time.monotonic() < deadline
        ):
            if not cluster.queue():
                break
            time.sleep(0.5)
        _stop(cluster.procs)


def _wait_for(check, timeout: float, what: str, cluster: SlurmCluster) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in cluster.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode} while waiting for {what}\n{cluster.logs()}")
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{cluster.logs()}")


@pytest.fixture(scope="session")
def sft_corpus(shared: Path, tmp_path_factory) -> Path:
    """64 corpus rows (the data_prep format) from real GSM8K training problems, reasoning inside <think>."""
    from data_prep.row import make_row

    out = tmp_path_factory.mktemp("corpus") / "gsm8k64.jsonl"
    lines = (shared / "samples" / "gsm8k_train.jsonl").read_text().splitlines()[:64]
    with out.open("w") as f:
        for line in lines:
            rec = json.loads(line)
            reasoning, answer = rec["answer"].split("####")
            response = f"<think>\n{reasoning.strip()}\n</think>\n\nThe answer is \\boxed{{{answer.strip()}}}."
            verification = {"method": "math", "passed": True, "score": 1.0, "reason": "matches reference"}
            row = make_row(
                problem=rec["question"], response=response, source="gsm8k", category="math", verification=verification
            )
            f.write(json.dumps(row) + "\n")
    return out


@pytest.fixture(scope="session")
def sft_recipe(tiny_model: Path, sft_corpus: Path):
    """Factory: write a tiny SFT recipe (every key explicit) to `path`; fp32 and gloo for DeepSpeed on the CPU."""

    def write(path: Path, output_dir: Path, max_steps: int, save_steps: int) -> Path:
        recipe = {
            "model_name_or_path": str(tiny_model),
            "dataset_name": str(sft_corpus),
            "dataset_train_split": "train",
            "output_dir": str(output_dir),
            "require_verified": True,
            "overlong": "drop",
            "chat_template_path": "qwen_think",
            "eos_token": "<|im_end|>",
            "dtype": "float32",
            "attn_implementation": "sdpa",
            "max_length": 256,
            "packing": True,
            "packing_strategy": "bfd",
            "padding_free": True,
            "assistant_only_loss": True,
            "completion_only_loss": False,
            "per_device_train_batch_size": 2,
            "gradient_accumulation_steps": 1,
            "max_steps": max_steps,
            "learning_rate": 1.0e-3,
            "lr_scheduler_type": "constant",
            "warmup_steps": 0,
            "weight_decay": 0.0,
            "max_grad_norm": 1.0,
            "seed": 42,
            "data_seed": 42,
            "bf16": False,
            "ddp_backend": "gloo",
            "gradient_checkpointing": False,
            "logging_steps": 1,
            "save_strategy": "steps",
            "save_steps": save_steps,
            "save_total_limit": 100,
            "report_to": "none",
            "dataloader_num_workers": 0,
            "disable_tqdm": True,
        }
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        return path

    return write


def printed_losses(text: str) -> list[float]:
    """Per-step losses from the Trainer's printed log lines ({'loss': '6.944', ...}), in order."""
    return [float(v) for v in re.findall(r"\{'loss': '([0-9.e+-]+)'", text)]


@pytest.fixture(scope="session")
def losses_in():
    """The parser of the Trainer's printed loss lines, for tests (test modules here cannot import each other)."""
    return printed_losses
