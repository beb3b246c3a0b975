"""benchmarks.common.step_flops: the model FLOPs behind the utilisation records."""

import pytest

from benchmarks.common import step_flops
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
