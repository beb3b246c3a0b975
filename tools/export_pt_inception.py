"""Export pytorch-fid's Inception weights (pt_inception-2015-12-05-6726825d.pth) as plain arrays.

    python tools/export_pt_inception.py pt_inception-2015-12-05-6726825d.pth pt_inception.npz

Run where torch is installed (it is not a vdmjax dependency); then convert for vdmjax with
`python -m vdmjax.eval.inception --npz pt_inception.npz --out inception_fid.msgpack`.
"""

import sys

import numpy as np
import torch

state = torch.load(sys.argv[1], map_location="cpu", weights_only=True)
np.savez(sys.argv[2], **{k: v.numpy() for k, v in state.items()})
print(f"wrote {sys.argv[2]} ({len(state)} arrays)")
