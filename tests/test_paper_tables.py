"""experiments/paper_tables.py shows only numbers read from result files, 'not run' otherwise."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _render(results):
  out = os.path.join(results, "paper_tables.md")
  subprocess.run([sys.executable, os.path.join(ROOT, "experiments", "paper_tables.py"),
                  "--results", results], check=True, capture_output=True)
  return open(out).read()


def test_empty_results_render_as_not_run(tmp_path):
  text = _render(str(tmp_path))
  assert "| CIFAR-10, no augmentation | 2.65 | not run |" in text
  assert "2.949" not in text


def test_a_paper_scale_result_file_fills_its_cell(tmp_path):
  os.makedirs(tmp_path / "paper_scale")
  with open(tmp_path / "paper_scale" / "cifar10_vdm.json", "w") as f:
    json.dump({"bpd": 2.7012, "bpd_se": 0.0031}, f)
  with open(tmp_path / "iddpm_objectives.json", "w") as f:
    json.dump([{"objective": "hybrid", "var_type": "learned_range", "nll_bpd": 2.0,
                "nll_bpd_se": 0.02}], f)
  text = _render(str(tmp_path))
  assert "| CIFAR-10, no augmentation | 2.65 | 2.701 +- 0.003 |" in text
  assert "| hybrid | cosine | learned_range | 2.000 +- 0.020 |" in text


def test_ddgan_result_files_fill_their_rows(tmp_path):
  with open(tmp_path / "ddgan_sampling_time.json", "w") as f:
    json.dump({"batch": 64, "ddgan_seconds": 0.05, "ancestral_seconds": 12.5, "ratio": 250.0}, f)
  with open(tmp_path / "ddgan_25gaussians.json", "w") as f:
    json.dump([{"model": "ddgan", "T": 4, "modes_covered": 25, "high_quality": 0.9}], f)
  text = _render(str(tmp_path))
  assert "| 64 | 0.050 | 12.5 | 250 |" in text
  assert "| ddgan | 4 | 25 | 0.900 |" in text
  assert "| T | train steps | Frechet |\n| --- | --- | --- |\n| not run | | |" in text


def test_vdm_ablation_file_fills_its_rows(tmp_path):
  with open(tmp_path / "vdm_ablations.json", "w") as f:
    json.dump({"steps": 250, "seeds": [0, 1, 2], "variants": {
        "base": {"ablation": "-", "label": "base", "bpd": 3.5, "bpd_se": 0.1,
                 "variance_over_t": 6.5, "variance_over_t_se": 0.2,
                 "invariance": {"cosine": {"diffusion_bpd": 3.4, "diffusion_bpd_se": 0.3,
                                           "variance_over_t": 80.0,
                                           "variance_over_t_se": 9.0}}},
        "T10": {"ablation": "c", "label": "discrete T = 10", "bpd": 3.9, "bpd_se": 0.05}}}, f)
  text = _render(str(tmp_path))
  assert "| - | base | 3.500 +- 0.100 |  | 6.500 +- 0.200 |" in text
  assert "| c | discrete T = 10 | 3.900 +- 0.050 |  |  |" in text
  assert "| cosine | 3.400 +- 0.300 | 80.000 +- 9.000 |" in text
