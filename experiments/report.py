"""Shared output of the experiment scripts: markdown tables and matplotlib figures."""

from __future__ import annotations


def write_table(path, header, rows):
  """Write (and print) a markdown table: ``header`` a list of column names, ``rows`` lists of
  already formatted cells."""
  lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


def pyplot():
  """matplotlib.pyplot on the file-only Agg backend (no display on these machines)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def save(fig, path, dpi=120):
  """Lay out, write and announce a figure."""
  fig.tight_layout()
  fig.savefig(path, dpi=dpi)
  print("wrote", path)
