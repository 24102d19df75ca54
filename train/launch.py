"""Build this node's `accelerate launch` command from the slurm environment, and find where to resume.

`slurm/train.slurm` runs `srun --ntasks-per-node=1 python -m train.launch ACCEL_CONFIG RECIPE [overrides]`;
every node turns its SLURM_* variables into the same torchrun rendezvous (first node = main process) and
then replaces itself with `accelerate launch ... -m train.sft --config RECIPE [overrides]`.

    python -m train.launch [--dry-run] ACCEL_CONFIG RECIPE [overrides ...]   # exec (or print) the command
    python -m train.launch --latest-checkpoint RECIPE [overrides ...]       # print newest complete checkpoint
    python -m train.launch --output-dir RECIPE [overrides ...]              # print the run's output_dir
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from train.resume import resolve_resume

DEFAULT_PORT_BASE = 29500


class LaunchError(RuntimeError):
    """The slurm environment or the arguments do not describe a launch we can build; the message says why."""


@dataclass(frozen=True)
class Topology:
    """Where this process sits in the job: the job's hosts, this node's rank and GPUs (processes) per node."""

    hosts: tuple[str, ...]
    node_rank: int
    procs_per_node: int

    @property
    def num_machines(self) -> int:
        return len(self.hosts)

    @property
    def num_processes(self) -> int:
        return self.num_machines * self.procs_per_node

    @property
    def main_host(self) -> str:
        return self.hosts[0]


def expand_nodelist(compact: str) -> list[str]:
    """Expand slurm's compact host list (`gpu-[01-04],gpu07`, `r[1-2]n[1,3]`) into host names, in order.

    Hand-written so the launcher works where `scontrol` is absent (a login node without slurm, unit tests);
    inside a job `hostnames()` prefers `scontrol show hostnames`, the authoritative parser.
    """
    hosts: list[str] = []
    for item in _split_top_level(compact.strip()):
        hosts.extend(_expand_item(item))
    if not hosts:
        raise LaunchError(f"empty node list {compact!r}")
    return hosts


def _split_top_level(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise LaunchError(f"node list {text!r}: unmatched ']' at position {i}")
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise LaunchError(f"node list {text!r}: unmatched '['")
    items.append(text[start:])
    return [item for item in (s.strip() for s in items) if item]


def _expand_item(item: str) -> list[str]:
    match = re.search(r"\[([^\]]*)\]", item)
    if match is None:
        return [item]
    prefix, rest = item[: match.start()], item[match.end() :]
    out = []
    for value in _expand_range_set(match.group(1), item):
        out.extend(prefix + value + tail for tail in _expand_item(rest))
    return out


def _expand_range_set(body: str, item: str) -> list[str]:
    values = []
    for part in body.split(","):
        part = part.strip()
        if re.fullmatch(r"\d+", part):
            values.append(part)
            continue
        bounds = re.fullmatch(r"(\d+)-(\d+)", part)
        if bounds is None:
            raise LaunchError(f"node list item {item!r}: cannot read range {part!r}")
        lo, hi = bounds.groups()
        if int(hi) < int(lo):
            raise LaunchError(f"node list item {item!r}: range {part!r} runs backwards")
        width = len(lo)  # slurm keeps the zero padding of the lower bound: [01-10] -> 01 .. 10
        values.extend(str(n).zfill(width) for n in range(int(lo), int(hi) + 1))
    return values


def hostnames(compact: str, env: Mapping[str, str] | None = None) -> list[str]:
    """Expand a compact node list with `scontrol show hostnames` when available, else with `expand_nodelist`."""
    scontrol = shutil.which("scontrol")
    if scontrol:
        proc = subprocess.run(
            [scontrol, "show", "hostnames", compact],
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(os.environ if env is None else env),
        )
        if proc.returncode == 0 and proc.stdout.split():
            return proc.stdout.split()
    return expand_nodelist(compact)


def _int_env(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise LaunchError(f"environment variable {name}={raw!r}: expected an integer") from None


def _gpus_per_node(env: Mapping[str, str]) -> int:
    """GPUs (= training processes) on each node: GPUS_PER_NODE override, else what slurm allocated."""
    for name in ("GPUS_PER_NODE", "SLURM_GPUS_ON_NODE"):
        value = _int_env(env, name)
        if value is not None:
            if value < 1:
                raise LaunchError(f"{name}={value}: need at least one process per node")
            return value
    # --gpus-per-node=8 or --gpus-per-node=h100:8 reaches the job as SLURM_GPUS_PER_NODE.
    per_node = env.get("SLURM_GPUS_PER_NODE", "")
    if per_node:
        count = per_node.rsplit(":", 1)[-1]
        if count.isdigit() and int(count) > 0:
            return int(count)
    raise LaunchError(
        "cannot tell how many processes to start per node: submit with --gpus-per-node=N "
        "(slurm then sets SLURM_GPUS_ON_NODE) or set GPUS_PER_NODE"
    )


def topology_from_env(env: Mapping[str, str], expand=hostnames) -> Topology:
    """Read the job's hosts, this node's rank and processes per node from SLURM_* variables."""
    compact = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST")
    if not compact:
        raise LaunchError("SLURM_JOB_NODELIST is not set: run inside a slurm job (srun/sbatch)")
    hosts = tuple(expand(compact))
    nnodes = _int_env(env, "SLURM_NNODES") or _int_env(env, "SLURM_JOB_NUM_NODES")
    if nnodes is not None and nnodes != len(hosts):
        raise LaunchError(f"SLURM_NNODES={nnodes} but SLURM_JOB_NODELIST={compact!r} names {len(hosts)} hosts")
    ntasks = _int_env(env, "SLURM_STEP_NUM_TASKS") or _int_env(env, "SLURM_NTASKS")
    if ntasks is not None and ntasks != len(hosts):
        # accelerate starts one process per GPU itself; a second launcher on a node would double them.
        raise LaunchError(
            f"{ntasks} slurm tasks for {len(hosts)} nodes: run one task per node (srun --ntasks-per-node=1)"
        )
    node_rank = _int_env(env, "SLURM_NODEID")
    if node_rank is None:
        node_rank = _int_env(env, "SLURM_PROCID")
    if node_rank is None:
        if len(hosts) > 1:
            raise LaunchError("SLURM_NODEID is not set: start the launcher with srun, one task per node")
        node_rank = 0
    if not 0 <= node_rank < len(hosts):
        raise LaunchError(f"SLURM_NODEID={node_rank} is outside the {len(hosts)} hosts of {compact!r}")
    return Topology(hosts=hosts, node_rank=node_rank, procs_per_node=_gpus_per_node(env))


def main_process_port(env: Mapping[str, str]) -> int:
    """MAIN_PROCESS_PORT if set, else a port derived from the job id so concurrent jobs on a node differ."""
    explicit = _int_env(env, "MAIN_PROCESS_PORT")
    if explicit is not None:
        return explicit
    job = _int_env(env, "SLURM_JOB_ID") or 0
    return DEFAULT_PORT_BASE + job % 10000


def accelerate_command(
    topo: Topology,
    accelerate_config: str,
    recipe: str,
    overrides: Sequence[str] = (),
    *,
    port: int = DEFAULT_PORT_BASE,
    rdzv_backend: str = "static",
    main_host: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The argument list that starts this node's share of the run under `accelerate launch`."""
    if rdzv_backend not in ("static", "c10d"):
        raise LaunchError(f"rdzv_backend {rdzv_backend!r}: expected 'static' or 'c10d'")
    cmd = [
        "accelerate",
        "launch",
        "--config_file",
        accelerate_config,
        "--num_machines",
        str(topo.num_machines),
        "--machine_rank",
        str(topo.node_rank),
        "--num_processes",
        str(topo.num_processes),
        "--main_process_ip",
        main_host or topo.main_host,
        "--main_process_port",
        str(port),
        "--rdzv_backend",
        rdzv_backend,
    ]
    if rdzv_backend == "static":
        # accelerate maps --same_network to torchrun's --master_addr/--master_port, which the static
        # rendezvous needs; without it it sets --rdzv_endpoint, which is what c10d needs instead.
        cmd.append("--same_network")
    # With DeepSpeed on several machines accelerate otherwise defaults to pdsh over ssh; slurm has already
    # started us on every node, so each node runs its own torchrun ("standard"). Ignored without DeepSpeed.
    cmd += ["--deepspeed_multinode_launcher", "standard"]
    cmd += list(extra)
    cmd += ["-m", "train.sft", "--config", recipe, *overrides]
    return cmd


def _override_value(overrides: Sequence[str], key: str) -> str | None:
    """Last value given for `key` as `--key v`, `--key=v` or `key=v` (the forms train.sft accepts)."""
    value = None
    for i, arg in enumerate(overrides):
        if arg in (f"--{key}", f"--{key.replace('_', '-')}") and i + 1 < len(overrides):
            value = overrides[i + 1]
        for prefix in (f"--{key}=", f"--{key.replace('_', '-')}=", f"{key}="):
            if arg.startswith(prefix):
                value = arg[len(prefix) :]
    return value


def recipe_output_dir(recipe: str | Path, overrides: Sequence[str] = ()) -> Path:
    """The run's output_dir: an override if given, else the recipe's `output_dir` key."""
    value = _override_value(overrides, "output_dir")
    if value is None:
        try:
            data = yaml.safe_load(Path(recipe).read_text()) or {}
        except FileNotFoundError:
            raise LaunchError(f"recipe {recipe}: file not found") from None
        except yaml.YAMLError as err:
            raise LaunchError(f"recipe {recipe}: not valid YAML ({err})") from None
        value = data.get("output_dir") if isinstance(data, dict) else None
    if not value:
        raise LaunchError(f"recipe {recipe}: no output_dir (needed to find checkpoints to resume from)")
    return Path(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m train.launch",
        description="Start this node's part of a multi-node run (inside srun), or print the newest checkpoint.",
        epilog="Environment: GPUS_PER_NODE (else SLURM_GPUS_ON_NODE), MAIN_PROCESS_PORT (else 29500 + job id "
        "mod 10000), MAIN_PROCESS_IP (else the first host), RDZV_BACKEND (static|c10d), "
        "DISTILLERY_ACCELERATE_EXTRA (extra `accelerate launch` flags, shell-quoted), "
        "DISTILLERY_RESUME_FROM (checkpoint to resume from, chosen once by train.slurm for all nodes).",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    parser.add_argument(
        "--latest-checkpoint",
        action="store_true",
        help="print the newest complete checkpoint of RECIPE's output_dir (empty if none) and exit; "
        "arguments are then RECIPE [overrides]",
    )
    parser.add_argument(
        "--output-dir", action="store_true", help="print RECIPE's output_dir (after overrides) and exit"
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, help="ACCEL_CONFIG RECIPE [overrides ...]")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of `python -m train.launch`."""
    opts = _parser().parse_args(argv)
    env = dict(os.environ if env is None else env)
    try:
        if opts.latest_checkpoint or opts.output_dir:
            if not opts.args:
                raise LaunchError("--latest-checkpoint and --output-dir need RECIPE [overrides]")
            output_dir = recipe_output_dir(opts.args[0], opts.args[1:])
            # Same rule as `resume_from_checkpoint: auto` in train.sft: newest checkpoint that finished saving.
            print(output_dir if opts.output_dir else (resolve_resume("auto", output_dir) or ""))
            return 0
        if len(opts.args) < 2:
            raise LaunchError("expected ACCEL_CONFIG RECIPE [overrides ...]")
        accelerate_config, recipe, *overrides = opts.args
        for label, path in (("accelerate config", accelerate_config), ("recipe", recipe)):
            if not Path(path).is_file():
                raise LaunchError(f"{label} {path}: file not found")
        resume = env.get("DISTILLERY_RESUME_FROM", "")
        if resume and _override_value(overrides, "resume_from_checkpoint") is None:
            overrides = [*overrides, "--resume_from_checkpoint", resume]
        topo = topology_from_env(env, expand=lambda compact: hostnames(compact, env))
        cmd = accelerate_command(
            topo,
            accelerate_config,
            recipe,
            overrides,
            port=main_process_port(env),
            rdzv_backend=env.get("RDZV_BACKEND", "static"),
            main_host=env.get("MAIN_PROCESS_IP") or None,
            extra=shlex.split(env.get("DISTILLERY_ACCELERATE_EXTRA", "")),
        )
    except LaunchError as err:
        print(f"train.launch: error: {err}", file=sys.stderr)
        return 2
    print(
        f"[train.launch] node {topo.node_rank}/{topo.num_machines} ({', '.join(topo.hosts)}), "
        f"{topo.procs_per_node} processes per node, {topo.num_processes} in all: {shlex.join(cmd)}",
        flush=True,
    )
    if opts.dry_run:
        return 0
    os.execvpe(cmd[0], cmd, env)
    return 1  # not reached: exec replaces the process


if __name__ == "__main__":
    sys.exit(main())
