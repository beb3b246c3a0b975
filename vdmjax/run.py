"""Run one mode of an experiment from a config: shared by the command line and the demo."""

from __future__ import annotations

import json
import os


def write_config(config, workdir):
  """Write the config into the workdir; a different saved config is refused, keys listed."""
  from vdmjax.train.config import check_same_config
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, "config.json")
  current = json.loads(config.to_json_best_effort())
  if os.path.exists(path):
    with open(path) as f:
      check_same_config(json.load(f), current, path)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(current, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def run_mode(config, workdir, mode, step=None, guidance_w=None):
  from vdmjax.train.config import validate
  from vdmjax.train.loop import Experiment
  validate(config)
  if mode == "train":
    write_config(config, workdir)
  exp = Experiment(config, workdir)
  if mode == "train":
    exp.train()
    return {"step": int(exp.state["step"])}
  restored = exp.restore(step)
  if restored is None:
    raise FileNotFoundError(f"no checkpoint under {exp.ckpt.dir}: train first")
  if mode == "eval":
    result = exp.evaluate()
    if "bpd" in result:
      parts = ", ".join(f"{k} {result[k]:.4f}" for k in ("prior", "recon", "diffusion", "nfe")
                        if k in result)
      print(f"held-out bpd ({result['eval_method']}): {result['bpd']:.4f} +- "
            f"{result['bpd_se']:.4f} ({parts}) at step {result['step']} on "
            f"{result['num_examples']} images", flush=True)
    else:
      shown = ", ".join(f"{k} {result[k]:.4f} +- {result[k + '_se']:.4f}"
                        for k in result if f"{k}_se" in result)
      print(f"held-out {shown} at step {result['step']} on {result['num_examples']} images",
            flush=True)
    print(f"eval json: {result['path']}", flush=True)
    return result
  if not hasattr(exp.objective, "sample"):
    raise ValueError(f"method {config.get('method')!r} has no sample mode; guide a diffusion "
                     "model with it through sample.classifier_workdir")
  path = exp.sample(guidance_w=guidance_w)
  print(f"sample grid: {path}", flush=True)
  return {"path": path}
