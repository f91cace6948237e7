"""The model registry for people: a listing of versions and a readable profile of one. Pure
formatting of `SegmentModel` records."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from batch.identity import Space
from segstream.model.record import SegmentModel


def _fmt(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"


def listing(models: Sequence[SegmentModel]) -> str:
    """One line per model version."""
    head = f"{'version':>7}  {'status':<9}  {'engine':<7}  {'k':>2}  {'rows':>9}  {'silhouette':>10}  {'as of':<19}  trained at"
    lines = [head]
    for m in models:
        sil = m.metrics.get("silhouette")
        lines.append(
            f"{m.version:>7}  {m.status:<9}  {m.engine:<7}  {m.k:>2}  {m.rows:>9,}  "
            f"{'n/a' if sil is None else f'{sil:.3f}':>10}  "
            f"{m.as_of:%Y-%m-%d %H:%M:%S}  {m.trained_at:%Y-%m-%d %H:%M:%S}"
        )
    return "\n".join(lines)


def profile(model: SegmentModel) -> str:
    """A readable profile of each segment: size, share and centroid in raw units."""
    raw = Space.of(model).to_raw(np.asarray(model.centroids))
    sizes = model.metrics.get("segment_sizes", {})
    shares = model.metrics.get("segment_shares", {})
    sel = model.metrics.get("k_selection", {})
    ident = model.metrics.get("identity", {})
    out = [
        f"model v{model.version} ({model.status}), {model.engine}, k={model.k}, "
        f"{model.rows:,} customers as of {model.as_of:%Y-%m-%d %H:%M:%S}",
        f"features: {', '.join(f'{f} ({t})' for f, t in zip(model.features, model.transforms, strict=True))}",
    ]
    if sel:
        out.append(f"k selection: {sel.get('reason')}")
        out.append(f"  {'k':>3}  {'inertia':>14}  {'silhouette':>10}")
        for k, inertia, sil in zip(sel["ks"], sel["inertia"], sel["silhouette"], strict=True):
            mark = "  <- chosen" if k == sel.get("chosen") else ""
            sil_text = "n/a" if sil is None else f"{sil:.3f}"
            out.append(f"  {k:>3}  {inertia:>14,.1f}  {sil_text:>10}{mark}")
    if ident:
        previous = ident.get("previous_version")
        against = "first model" if previous is None else f"matched against v{previous}"
        out.append(
            f"identity ({against}): new segments {ident.get('new_segments')}, "
            f"retired {ident.get('retired_segments')}"
        )
    cols = "  ".join(f"{f:>16}" for f in model.features)
    out.append(f"{'id':>4}  {'segment':<18}  {'customers':>9}  {'share':>6}  {cols}")
    for i, (seg, name) in enumerate(zip(model.segment_ids, model.segment_names, strict=True)):
        size = sizes.get(str(seg))
        share = shares.get(str(seg))
        values = "  ".join(f"{_fmt(v):>16}" for v in raw[i])
        out.append(
            f"{seg:>4}  {name:<18}  {'n/a' if size is None else f'{size:,}':>9}  "
            f"{'n/a' if share is None else f'{share:.1%}':>6}  {values}"
        )
    return "\n".join(out)
