"""FID, Inception Score and precision/recall of a sample archive against a dataset split.

    python -m vdmjax.eval.fid --weights=inception_fid.msgpack --samples=run/samples/x.npz \\
        --data=cifar10 --data_dir=gs://BUCKET/tfds [--split=train] [--out=fid.json]

``--samples`` is an .npz with uint8 ``images`` (N, H, W, C) (what sample mode writes); the
reference statistics of the split are computed once per weights file and cached under
``--cache_dir``; batches are sharded over all devices. Prints (and writes) one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from vdmjax.data import sources
from vdmjax.eval import inception


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--weights", required=True, help="msgpack from vdmjax.eval.inception")
  p.add_argument("--samples", required=True, help=".npz with uint8 'images'")
  p.add_argument("--data", required=True, help="dataset name of vdmjax.data.sources")
  p.add_argument("--data_dir", default=None)
  p.add_argument("--split", default="train", choices=("train", "eval"))
  p.add_argument("--batch_size", type=int, default=200)
  p.add_argument("--cache_dir", default=os.path.join("runs", "fid_reference"))
  p.add_argument("--out", default="")
  args = p.parse_args(argv)
  try:
    with np.load(args.samples, allow_pickle=False) as f:
      samples = f["images"]
  except (OSError, KeyError) as e:
    raise SystemExit(f"error: --samples {args.samples}: {e}") from None
  variables = inception.load(args.weights)
  images, _ = sources.load(args.data, args.split, args.data_dir)
  ref = inception.reference_stats(variables, images, f"{args.data.replace('/', '_')}_"
                                  f"{args.split}", args.cache_dir, args.batch_size)
  result = dict(inception.sample_quality(variables, samples, ref, args.batch_size),
                data=args.data, split=args.split, samples=args.samples)
  print(json.dumps(result), flush=True)
  if args.out:
    with open(args.out, "w") as f:
      json.dump(result, f, indent=2)


if __name__ == "__main__":
  main()
