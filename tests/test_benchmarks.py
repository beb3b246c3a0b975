"""The benchmarks' own machinery: the model FLOPs behind the utilisation records, the timing
helper, the scan comparison's records and the profile's grouping."""

import jax
import jax.numpy as jnp
import pytest

from benchmarks.common import step_flops, timed
from benchmarks.substeps import seconds_per_update
from tests.configs.tiny_vdm import get_config

SHAPE = (28, 28, 1)


def _flops(batch=8, **score):
  c = get_config()
  c.train.batch_size = batch
  c.model.score.update(n_layer=2, **score)
  return step_flops(c, SHAPE)


def test_step_flops_do_not_depend_on_scan_or_remat():
  # model FLOPs: the stack is counted unrolled and recomputation is not counted
  base = _flops(scan_blocks="false")
  assert base > 0
  assert _flops(scan_blocks="true") == base
  assert _flops(scan_blocks="true", remat=True) == base


def test_step_flops_are_affine_in_the_batch():
  # per-example work (network forward and backward) grows linearly; the parameter update and
  # the schedule's own work do not depend on the batch
  f4, f8, f12 = _flops(4), _flops(8), _flops(12)
  assert f8 - f4 == pytest.approx(f12 - f8, rel=1e-3)
  assert f8 - f4 > 0.9 * f4   # the per-example term dominates a step of this network


def test_timed_runs_the_calls_it_divides_by():
  # one warm-up call, then repeats x back_to_back calls; the figure is seconds per call
  runs = []

  def fn(x):
    jax.debug.callback(lambda: runs.append(1))
    return x + 1

  compile_s, per_call = timed(fn, jnp.zeros(3), repeats=2, back_to_back=5)
  assert len(runs) == 1 + 2 * 5 and compile_s > 0 and per_call > 0


def test_substeps_benchmark_times_the_step_per_update():
  c = get_config()
  compile_s, update_s = seconds_per_update(c, SHAPE, substeps=2, unroll=True, steps=1)
  assert compile_s > 0 and update_s > 0


def test_network_options_reach_the_networks_that_have_them():
  from benchmarks.train_step import preset_config, set_network_options
  c, _ = preset_config("vdm_ref", 0)
  set_network_options(c, remat=True, dtype="bfloat16", scan_blocks="true")
  assert (c.model.score.remat, c.model.score.dtype, c.model.score.scan_blocks) == (
      True, "bfloat16", "true")
  c, _ = preset_config("mnist_ddgan", 0)
  set_network_options(c, remat=False, dtype="bfloat16", scan_blocks="auto")
  assert c.model.generator.dtype == c.model.discriminator.dtype == "bfloat16"
  with pytest.raises(SystemExit, match="--remat: no network of this preset"):
    set_network_options(c, remat=True)


def test_scan_vs_unrolled_records_the_three_variants(tmp_path, monkeypatch):
  import json
  import sys

  from benchmarks import common, scan_vs_unrolled
  monkeypatch.setattr(common, "RESULTS", str(tmp_path / "results.jsonl"))
  monkeypatch.setattr(sys, "argv", ["scan_vs_unrolled.py", "--n_layer", "1", "--channels", "4",
                                    "--size", "4", "--batch", "1", "--repeats", "1"])
  scan_vs_unrolled.main()
  rec = json.loads((tmp_path / "results.jsonl").read_text())
  assert rec["name"] == "compile_scan_vs_unrolled" and rec["scan_conv"] == "loop"   # CPU
  assert rec["step_ratio"] == rec["step_scan_loop_s"] / rec["step_unrolled_s"]
  assert rec["compile_ratio"] == rec["compile_scan_loop_s"] / rec["compile_unrolled_s"]


def test_profile_groups_kernels_by_the_op_they_come_from():
  from benchmarks.profile_step import group_of, kernel_times, op_names
  hlo = "\n".join([
      "%fused_computation.1 (p: f32[2]) -> f32[2] {",
      "  ROOT %convolution.3 = f32[2]{0} convolution(%p), dim_labels=b01f_01io->b01f",
      "}",
      "%fused_computation.2 (p: f32[2]) -> f32[2] {",
      '  ROOT %exp.1 = f32[2]{0} exponential(%p), metadata={op_name="jit(step)/jit(log_softmax)/exp"}',
      "}",
      "ENTRY %main (a: f32[2]) -> f32[2] {",
      '  %dot.4 = f32[2]{0} dot(%a, %a), metadata={op_name="jit(step)/transpose(jvp(VDMScoreNet))/down_0/dot_general"}',
      "  %ynn_fusion.5 = f32[2]{0} fusion(%a), kind=kCustom, calls=%fused_computation.1",
      "  ROOT %loop_fusion.6 = f32[2]{0} fusion(%a), kind=kLoop, calls=%fused_computation.2",
      "}"])
  names = op_names(hlo)
  assert group_of(names["dot.4"]) == "VDMScoreNet backward"
  assert group_of(names["ynn_fusion.5"]) == "convolution (no op_name)"
  assert group_of(names["loop_fusion.6"]) == "log_softmax forward"
  events = [{"ph": "X", "name": "dot.4", "dur": 3000.0},
            {"ph": "X", "name": "kernel_xyz", "dur": 1000.0, "args": {"hlo_op": "loop_fusion.6"}},
            {"ph": "X", "name": "MemcpyHtoD", "dur": 500.0},
            {"ph": "X", "name": "ThunkExecutor::Execute", "dur": 9000.0}]
  groups, unattributed, transfers = kernel_times(events, names)
  assert groups == {"VDMScoreNet backward": 3.0, "log_softmax forward": 1.0}
  assert (unattributed, transfers) == (0.5, 1)
