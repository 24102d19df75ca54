"""train.launch: the multi-node `accelerate launch` command built from SLURM_* variables, for 2 and 4 nodes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from train.launch import (
    LaunchError,
    accelerate_command,
    expand_nodelist,
    main,
    recipe_output_dir,
    topology_from_env,
)


def _flags(cmd: list[str]) -> dict[str, str | bool]:
    """accelerate's own flags (before `-m`) as {flag: value or True}."""
    end = cmd.index("-m")
    out: dict[str, str | bool] = {}
    i = 2
    while i < end:
        if i + 1 < end and not cmd[i + 1].startswith("--"):
            out[cmd[i]] = cmd[i + 1]
            i += 2
        else:
            out[cmd[i]] = True
            i += 1
    return out


def _env(nodelist: str, nnodes: int, node_id: int, gpus: int = 8, job: str = "4242") -> dict[str, str]:
    return {
        "SLURM_JOB_ID": job,
        "SLURM_JOB_NODELIST": nodelist,
        "SLURM_NNODES": str(nnodes),
        "SLURM_NODEID": str(node_id),
        "SLURM_PROCID": str(node_id),
        "SLURM_NTASKS": str(nnodes),
        "SLURM_GPUS_ON_NODE": str(gpus),
    }


@pytest.mark.parametrize(
    ("compact", "hosts"),
    [
        ("gpu-[01-04],gpu07", ["gpu-01", "gpu-02", "gpu-03", "gpu-04", "gpu07"]),
        ("node[8-11]", ["node8", "node9", "node10", "node11"]),
        ("n[001,003,010-011]", ["n001", "n003", "n010", "n011"]),
        ("rack[1-2]-gpu[1,3]", ["rack1-gpu1", "rack1-gpu3", "rack2-gpu1", "rack2-gpu3"]),
        ("login1", ["login1"]),
        ("a1,b[2-3],c", ["a1", "b2", "b3", "c"]),
    ],
)
def test_expand_nodelist(compact: str, hosts: list[str]) -> None:
    assert expand_nodelist(compact) == hosts


@pytest.mark.parametrize("bad", ["gpu-[01-04", "gpu-01]", "n[3-1]", "n[a-b]", ""])
def test_expand_nodelist_rejects_malformed(bad: str) -> None:
    with pytest.raises(LaunchError, match="node list"):
        expand_nodelist(bad)


@pytest.mark.parametrize(
    ("nodelist", "hosts"),
    [
        ("gpu-[01-02]", ["gpu-01", "gpu-02"]),
        ("gpu-[01-03],gpu07", ["gpu-01", "gpu-02", "gpu-03", "gpu07"]),
    ],
)
def test_every_flag_for_each_node(nodelist: str, hosts: list[str]) -> None:
    nnodes = len(hosts)
    for rank in range(nnodes):
        env = _env(nodelist, nnodes, rank)
        topo = topology_from_env(env, expand=expand_nodelist)
        cmd = accelerate_command(
            topo,
            "recipes/accelerate/zero3.yaml",
            "recipes/sft/qwen/r1.yaml",
            ["--learning_rate", "1e-5"],
            port=29742,
        )
        assert cmd[:2] == ["accelerate", "launch"]
        assert _flags(cmd) == {
            "--config_file": "recipes/accelerate/zero3.yaml",
            "--num_machines": str(nnodes),
            "--machine_rank": str(rank),
            "--num_processes": str(8 * nnodes),
            "--main_process_ip": hosts[0],
            "--main_process_port": "29742",
            "--rdzv_backend": "static",
            "--same_network": True,
            "--deepspeed_multinode_launcher": "standard",
        }
        assert cmd[cmd.index("-m") :] == [
            "-m", "train.sft", "--config", "recipes/sft/qwen/r1.yaml", "--learning_rate", "1e-5",
        ]  # fmt: skip


def test_c10d_uses_an_endpoint_not_same_network() -> None:
    topo = topology_from_env(_env("gpu-[01-04]", 4, 3, gpus=4), expand=expand_nodelist)
    flags = _flags(accelerate_command(topo, "a.yaml", "r.yaml", rdzv_backend="c10d", port=1234))
    assert flags["--rdzv_backend"] == "c10d"
    assert "--same_network" not in flags
    assert (flags["--num_processes"], flags["--machine_rank"], flags["--main_process_ip"]) == ("16", "3", "gpu-01")
    with pytest.raises(LaunchError, match="rdzv_backend"):
        accelerate_command(topo, "a.yaml", "r.yaml", rdzv_backend="etcd")


def test_gpus_per_node_sources() -> None:
    env = _env("gpu-[01-02]", 2, 0)
    del env["SLURM_GPUS_ON_NODE"]
    with pytest.raises(LaunchError, match="--gpus-per-node"):
        topology_from_env(env, expand=expand_nodelist)
    assert topology_from_env({**env, "SLURM_GPUS_PER_NODE": "h100:4"}, expand=expand_nodelist).num_processes == 8
    # An explicit GPUS_PER_NODE (CPU testing, or a site that does not schedule GPUs) wins over slurm's count.
    both = {**env, "SLURM_GPUS_ON_NODE": "8", "GPUS_PER_NODE": "2"}
    assert topology_from_env(both, expand=expand_nodelist).num_processes == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SLURM_NNODES": "3"}, "SLURM_NNODES=3"),
        ({"SLURM_NTASKS": "16"}, "one task per node"),
        ({"SLURM_NODEID": "4", "SLURM_PROCID": "4"}, "outside the 4 hosts"),
        ({"SLURM_GPUS_ON_NODE": "eight"}, "SLURM_GPUS_ON_NODE='eight'"),
        ({"SLURM_JOB_NODELIST": ""}, "SLURM_JOB_NODELIST is not set"),
    ],
)
def test_inconsistent_environment_is_named(change: dict[str, str], message: str) -> None:
    env = {**_env("gpu-[01-04]", 4, 1), **change}
    with pytest.raises(LaunchError, match=message):
        topology_from_env(env, expand=expand_nodelist)


def test_accelerate_reads_the_flags_as_intended(tmp_path: Path) -> None:
    """Feed the 4-node command for node 2 to accelerate's own parser and torchrun preparation."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import prepare_deepspeed_cmd_env

    config = tmp_path / "zero2.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "compute_environment": "LOCAL_MACHINE",
                "distributed_type": "DEEPSPEED",
                "deepspeed_config": {"zero_stage": 2, "offload_optimizer_device": "none"},
                "num_machines": 1,
                "num_processes": 1,
                "machine_rank": 0,
            }
        )
    )
    topo = topology_from_env(_env("gpu-[01-04]", 4, 2), expand=expand_nodelist)
    cmd = accelerate_command(topo, str(config), "r.yaml", ["--max_steps", "3"], port=29611)
    args = launch_command_parser().parse_args(cmd[2:])
    args, defaults, _ = _validate_launch_command(args)
    assert args.use_deepspeed and not args.cpu  # so launch_command() takes deepspeed_launcher(), as below
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    assert (args.nnodes, args.node_rank, args.nproc_per_node) == ("4", 2, "8")
    assert (args.master_addr, args.master_port, args.rdzv_backend) == ("gpu-01", "29611", "static")
    assert args.module and args.training_script == "train.sft"
    assert args.training_script_args == ["--config", "r.yaml", "--max_steps", "3"]
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"


def test_main_dry_run_and_resume_override(tmp_path: Path, capsys) -> None:
    accel, recipe = tmp_path / "accel.yaml", tmp_path / "recipe.yaml"
    accel.write_text("distributed_type: MULTI_GPU\n")
    recipe.write_text(f"output_dir: {tmp_path / 'out'}\n")
    env = {
        **_env("gpu-[01-02]", 2, 1, gpus=4, job="17"),
        "DISTILLERY_RESUME_FROM": "out/checkpoint-30",
        "DISTILLERY_ACCELERATE_EXTRA": "--monitor_interval 1 --max_restarts 0",
        "PATH": "/nonexistent",  # no scontrol: the built-in node-list parser is used
    }
    assert main(["--dry-run", str(accel), str(recipe), "--max_steps", "5"], env=env) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(
        "[train.launch] node 1/2 (gpu-01, gpu-02), 4 processes per node, 8 in all: accelerate launch"
    )
    assert "--main_process_port 29517 " in line  # 29500 + job id 17
    assert "--monitor_interval 1 --max_restarts 0 -m train.sft" in line
    assert line.endswith(f"--config {recipe} --max_steps 5 --resume_from_checkpoint out/checkpoint-30")
    # an explicit resume on the command line wins over the one train.slurm found
    main(["--dry-run", str(accel), str(recipe), "--resume_from_checkpoint", "x"], env=env)
    assert capsys.readouterr().out.strip().endswith("--resume_from_checkpoint x")
    assert main(["--dry-run", str(accel), str(tmp_path / "missing.yaml")], env=env) == 2
    assert f"recipe {tmp_path / 'missing.yaml'}: file not found" in capsys.readouterr().err


def test_latest_complete_checkpoint(tmp_path: Path, capsys) -> None:
    """`--latest-checkpoint` (what train.slurm resumes from) skips checkpoints cut off mid-save."""
    out = tmp_path / "run"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"output_dir: {tmp_path / 'elsewhere'}\nlearning_rate: 1.0e-5\n")
    assert main(["--latest-checkpoint", str(recipe), f"--output_dir={out}"]) == 0
    assert capsys.readouterr().out == "\n"  # nothing saved yet: start from step 0
    for step, complete in ((5, True), (10, True), (15, False), (100, False)):
        ckpt = out / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        if complete:
            (ckpt / "trainer_state.json").write_text("{}")
    (out / "checkpoint-x").mkdir()
    assert main(["--latest-checkpoint", str(recipe), f"--output_dir={out}"]) == 0
    assert capsys.readouterr().out.strip() == str(out / "checkpoint-10")  # 15 and 100 were cut off mid-save
    assert main(["--output-dir", str(recipe)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "elsewhere")
    assert recipe_output_dir(recipe, ["--output_dir", str(out)]) == out
    assert recipe_output_dir(recipe, [f"output_dir={out}"]) == out
    recipe.write_text("learning_rate: 1.0e-5\n")
    with pytest.raises(LaunchError, match="no output_dir"):
        recipe_output_dir(recipe)


def test_parser_agrees_with_scontrol(slurm_cluster) -> None:
    """The fallback parser and slurm's own `scontrol show hostnames` expand the same lists identically."""
    for compact in ("gpu-[01-04],gpu07", "n[001,003,010-011]", "rack[1-2]-gpu[1,3]", "a1,b[2-3],c"):
        out = subprocess.run(
            ["scontrol", "show", "hostnames", compact],
            env=slurm_cluster.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == expand_nodelist(compact)
