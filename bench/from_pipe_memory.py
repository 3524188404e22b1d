"""Peak resident memory of a bf16 LTX-2 when its image-to-video and condition
pipelines are derived from it, as the ltx2 backend derives them (issue 20).

The transformer is LTX-2.0's own config (tests/fixtures/models) at one layer
and its real width (706M parameters), with random weights made in bf16; the
other components are `backends.tiny`'s.  `--without-dtype` derives them as the
backend did before the fix (diffusers' from_pipe then casts to float32).

    python bench/from_pipe_memory.py [--without-dtype]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CONFIG = REPO / "tests" / "fixtures" / "models" / "LTX-2-dev-Diffusers" / "transformer"


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--without-dtype", action="store_true", help="from_pipe as before the fix")
    args = parser.parse_args()
    import torch
    from diffusers import (
        LTX2ConditionPipeline,
        LTX2ImageToVideoPipeline,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )

    from backends import tiny

    config = json.loads((CONFIG / "config.json").read_text())
    config = {k: v for k, v in config.items() if not k.startswith("_")}
    config |= {  # one layer; the tiny components' channels where they meet it
        "num_layers": 1, "caption_channels": tiny.TEXT_WIDTH, "in_channels": 8,
        "out_channels": 8, "audio_in_channels": 4, "audio_out_channels": 4,
    }  # fmt: skip
    components = tiny.ltx2_components()
    torch.set_default_dtype(torch.bfloat16)
    components["transformer"] = LTX2VideoTransformer3DModel(**config)
    torch.set_default_dtype(torch.float32)
    base = LTX2Pipeline(**components).to(dtype=torch.bfloat16)
    parameters = sum(p.numel() for p in base.transformer.parameters()) / 1e6
    print(f"LTX-2.0 transformer, 1 layer, real width: {parameters:.0f}M parameters, bf16")
    print(f"base pipeline: peak resident {peak_gib():.2f} GiB")
    options = {} if args.without_dtype else {"dtype": torch.bfloat16}
    kinds = (LTX2ImageToVideoPipeline, LTX2ConditionPipeline)
    derived = [kind.from_pipe(base, **options) for kind in kinds]
    how = "without dtype" if args.without_dtype else "with dtype=bfloat16"
    print(
        f"after from_pipe {how}: peak resident {peak_gib():.2f} GiB, "
        f"transformer {derived[0].transformer.dtype}"
    )


if __name__ == "__main__":
    main()
