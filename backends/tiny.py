"""Tiny randomly initialised LTX-2 and Wan pipelines, built in code, for tests and benchmarks.

Nothing here touches a hub: the tokenizers are made from in-memory vocabularies
with the `tokenizers` library and every model is constructed from a config.
The components keep the real models' structure (the same classes, the same
compression ratios: 32x spatial and 8x temporal for LTX-2's VAE, 8x and 4x
for Wan's) at widths of a few channels, so the pipelines run the real code
paths in well under a second a step on a CPU.  Their output is noise: they
exist to check plumbing, shapes, conditioning and speed, not pictures.

`save_ltx2(folder)` and `save_wan(folder, kind)` write a diffusers model
folder (`model_index.json` and one subfolder per component) that the backends
load like a real one.  `save_wan_like(folder, published)` builds a Wan folder
from the real configs of a published one (tests/fixtures/models), cut to fit a
test: one transformer layer, heads of 12 channels instead of 128, a feed-forward
of 32, the tiny text encoder (and CLIP image encoder) and VAE; what the
backends recognise a model by (pipeline class, head count, channels, second
expert, image tokens, scheduler) is kept.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Literal

import torch

WanKind = Literal["t2v", "i2v", "vace"]
TEXT_WIDTH = 32  # the tiny text encoders' hidden size


def _characters() -> list[str]:
    return sorted(set(string.ascii_letters + string.digits + string.punctuation))


def gemma_tokenizer():
    """A character-level Gemma tokenizer (BPE, no merges) from an in-memory vocabulary."""
    from transformers import GemmaTokenizer

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    vocab = {token: index for index, token in enumerate(specials + ["▁", *_characters()])}
    # add_bos_token: without it an empty prompt tokenizes to nothing and its mask is all zero.
    return GemmaTokenizer(vocab=vocab, merges=[], add_bos_token=True, add_eos_token=False)


def t5_tokenizer():
    """A character-level T5 tokenizer (Unigram) from an in-memory vocabulary."""
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    pieces += [(c, -2.0) for c in _characters()]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


# ----------------------------------------------------------------------- LTX-2


def ltx2_scheduler(distilled: bool = False):
    """The scheduler of the published LTX-2 folders, as diffusers' conversion
    (scripts/convert_ltx2_to_diffusers.py) writes it: the distilled weights take
    their sigmas as they are, the dev weights are shifted by sequence length and
    stretched to a terminal value."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(
        use_dynamic_shifting=not distilled,
        base_shift=0.95,
        max_shift=2.05,
        base_image_seq_len=1024,
        max_image_seq_len=4096,
        shift_terminal=None if distilled else 0.1,
    )


def ltx2_components(distilled: bool = False) -> dict:
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    tokenizer = gemma_tokenizer()
    torch.manual_seed(0)
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": TEXT_WIDTH,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": 16,
        "max_position_embeddings": 2048,
        "sliding_window": 64,
    }
    vision_config = {
        "hidden_size": 16,
        "intermediate_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": 16,
        "patch_size": 8,
    }
    text_encoder = Gemma3ForConditionalGeneration(
        Gemma3Config(text_config=text_config, vision_config=vision_config, mm_tokens_per_image=4)
    ).eval()
    layers = text_config["num_hidden_layers"]

    torch.manual_seed(0)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        vae_scale_factors=(8, 32, 32),
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        caption_channels=TEXT_WIDTH,
        rope_double_precision=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    connectors = LTX2TextConnectors(
        caption_channels=TEXT_WIDTH,
        text_proj_in_factor=layers + 1,
        video_connector_num_attention_heads=4,  # heads x dim = the text width
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_double_precision=False,
        rope_type="split",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTX2Video(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1),
        decoder_inject_noise=(False, False, False, False),
        upsample_residual=(False, False, False),
        upsample_factor=(1, 1, 1),
        patch_size=4,
        spatial_compression_ratio=32,
        temporal_compression_ratio=8,
    )
    torch.manual_seed(0)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1, 2, 4),  # three levels: a 4x downsample, as the real audio VAE
        num_res_blocks=1,
        resolution=32,
        latent_channels=2,
        mel_bins=8,
        sample_rate=16000,
        mel_hop_length=160,
    )
    torch.manual_seed(0)
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=16,
        out_channels=2,
        upsample_kernel_sizes=[12, 10, 16],
        upsample_factors=[6, 5, 8],  # 240 samples a mel frame: 100 frames/s -> 24 kHz
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1]],
        output_sampling_rate=24000,
    )
    return {
        "scheduler": ltx2_scheduler(distilled),
        "vae": vae,
        "audio_vae": audio_vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "connectors": connectors,
        "transformer": transformer,
        "vocoder": vocoder,
    }


def ltx2_pipeline(distilled: bool = False):
    from diffusers import LTX2Pipeline

    return LTX2Pipeline(**ltx2_components(distilled))


def save_ltx2(folder: Path, distilled: bool = False) -> Path:
    """A tiny LTX-2 model folder (dev, or `distilled`), as `save_pretrained` writes it."""
    ltx2_pipeline(distilled).save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------- Wan


def wan_components(kind: WanKind = "t2v") -> dict:
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanTransformer3DModel,
        WanVACETransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = t5_tokenizer()
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(tokenizer),
            d_model=TEXT_WIDTH,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    ).eval()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    common = dict(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        out_channels=16,
        text_dim=TEXT_WIDTH,
        freq_dim=256,
        ffn_dim=32,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
    }
    torch.manual_seed(0)
    if kind == "t2v":
        components["transformer"] = WanTransformer3DModel(in_channels=16, num_layers=2, **common)
    elif kind == "i2v":
        # Wan 2.2-style image to video: the image goes in through the latents
        # (16 noise + 4 mask + 16 image channels), no CLIP image encoder.
        components["transformer"] = WanTransformer3DModel(in_channels=36, num_layers=2, **common)
        components["image_encoder"] = None
        components["image_processor"] = None
    else:
        components["transformer"] = WanVACETransformer3DModel(
            in_channels=16, num_layers=3, vace_layers=[0, 2], vace_in_channels=96, **common
        )
    return components


def wan_pipeline(kind: WanKind = "t2v"):
    from diffusers import WanImageToVideoPipeline, WanPipeline, WanVACEPipeline

    pipeline = {"t2v": WanPipeline, "i2v": WanImageToVideoPipeline, "vace": WanVACEPipeline}[kind]
    return pipeline(**wan_components(kind))


def save_wan(folder: Path, kind: WanKind = "t2v") -> Path:
    """A tiny Wan model folder of the given kind, as `save_pretrained` writes it."""
    wan_pipeline(kind).save_pretrained(folder)
    return folder


# ----------------------------------------- LTX-2 from a published folder's configs

# The LTX-2.0 transformer cut to test size: one layer, heads of 8 channels (the
# real 128; audio 4, the real 64), and the tiny components' channels where they
# meet it; heads, rotary settings and every other setting stay the published ones.
LTX2_CUT = {
    "num_layers": 1, "attention_head_dim": 8, "audio_attention_head_dim": 4,
    "caption_channels": TEXT_WIDTH, "in_channels": 8, "out_channels": 8,
    "audio_in_channels": 4, "audio_out_channels": 4,
}  # fmt: skip


def save_ltx2_like(folder: Path, published: Path) -> Path:
    """A test-sized LTX-2 folder from the transformer and scheduler configs of the
    published folder `published`; the other components are the tiny ones."""
    import diffusers

    config = json.loads((published / "transformer" / "config.json").read_text())
    config = {k: v for k, v in config.items() if not k.startswith("_")} | LTX2_CUT
    config["cross_attention_dim"] = config["num_attention_heads"] * LTX2_CUT["attention_head_dim"]
    config["audio_cross_attention_dim"] = (
        config["audio_num_attention_heads"] * LTX2_CUT["audio_attention_head_dim"]
    )
    scheduler = json.loads((published / "scheduler" / "scheduler_config.json").read_text())
    components = ltx2_components()
    torch.manual_seed(0)
    components["transformer"] = diffusers.LTX2VideoTransformer3DModel(**config)
    components["scheduler"] = diffusers.FlowMatchEulerDiscreteScheduler.from_config(scheduler)
    diffusers.LTX2Pipeline(**components).save_pretrained(folder)
    return folder


# ------------------------------------------- Wan from a published folder's configs

HEAD_WIDTH = 12  # channels a head (the real 128): enough for Wan's 3-axis rotary embedding
IMAGE_WIDTH = 8  # the tiny CLIP image encoder's hidden size (the real 1280)
CUT = {"num_layers": 1, "attention_head_dim": HEAD_WIDTH, "ffn_dim": 32, "text_dim": TEXT_WIDTH}


def wan_like_components(published: Path) -> tuple[type, dict]:
    """The pipeline class and components of the Wan folder `published` (its
    configs only), cut to test size; see the module's docstring."""
    import diffusers

    index = json.loads((published / "model_index.json").read_text())
    pipeline = getattr(diffusers, index["_class_name"])
    components = wan_components("t2v")
    scheduler = json.loads((published / "scheduler" / "scheduler_config.json").read_text())
    components["scheduler"] = diffusers.UniPCMultistepScheduler.from_config(scheduler)
    vae = json.loads((published / "vae" / "config.json").read_text())
    if vae.get("z_dim") == 48:  # Wan2.2's own VAE: 16x spatial, 48 latent channels
        torch.manual_seed(0)
        components["vae"] = diffusers.AutoencoderKLWan(
            base_dim=8, decoder_base_dim=8, z_dim=48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
            temperal_downsample=[False, True, True], is_residual=True, in_channels=12,
            out_channels=12, patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4,
            latents_mean=[0.0] * 48, latents_std=[1.0] * 48,
        )  # fmt: skip
    for name in ("transformer", "transformer_2"):
        components[name] = _cut_transformer(published, name)
    if index["_class_name"] == "WanImageToVideoPipeline":
        components["image_encoder"], components["image_processor"] = (None, None)
        if index.get("image_encoder", [None])[-1]:
            components["image_encoder"], components["image_processor"] = _tiny_clip()
    extra = {k: index[k] for k in ("boundary_ratio", "expand_timesteps") if k in index}
    return pipeline, components | extra


def _cut_transformer(published: Path, name: str):
    import diffusers

    path = published / name / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    model = getattr(diffusers, config.pop("_class_name"))
    config = {k: v for k, v in config.items() if not k.startswith("_")} | CUT
    heads = config["num_attention_heads"]
    if config.get("added_kv_proj_dim") is not None:  # Wan2.1 image to video: CLIP tokens
        config |= {"added_kv_proj_dim": heads * HEAD_WIDTH, "image_dim": IMAGE_WIDTH}
    if config.get("pos_embed_seq_len") is not None:  # FLF2V: two images' tokens
        config["pos_embed_seq_len"] = 2 * _CLIP_TOKENS
    if "vace_layers" in config:
        config["vace_layers"] = [0]
    torch.manual_seed(0)
    return model(**config)


_CLIP_TOKENS = 5  # a 8x8 image in 4x4 patches, and the class token


def _tiny_clip():
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    config = CLIPVisionConfig(
        hidden_size=IMAGE_WIDTH, projection_dim=IMAGE_WIDTH, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=16, image_size=8, patch_size=4,
    )  # fmt: skip
    processor = CLIPImageProcessor(crop_size=8, size=8)
    return CLIPVisionModelWithProjection(config).eval(), processor


def save_wan_like(folder: Path, published: Path) -> Path:
    """A test-sized Wan folder built from the configs of the published folder `published`."""
    pipeline, components = wan_like_components(published)
    pipeline(**components).save_pretrained(folder)
    return folder


# ------------------------------------------- LTX-2's second stage, built in code

# The x2 latent upsampler cut to test size: the tiny VAE's latent channels, the
# narrowest middle its group norms allow (32 groups), one block a stage; the
# rest (3-D, spatial only, the rational x2 resampler) as published.
UPSAMPLER_CUT = {"in_channels": 8, "mid_channels": 32, "num_blocks_per_stage": 1}


def save_ltx2_upsampler(folder: Path, published: Path | None = None) -> Path:
    """A tiny x2 latent upsampler in `folder`/latent_upsampler, from the published
    folder's upsampler config (cut, see UPSAMPLER_CUT) or the class's defaults."""
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    config = {}
    if published is not None:
        config = json.loads((published / "latent_upsampler" / "config.json").read_text())
        config = {k: v for k, v in config.items() if not k.startswith("_")}
    torch.manual_seed(0)
    LTX2LatentUpsamplerModel(**config | UPSAMPLER_CUT).save_pretrained(folder / "latent_upsampler")
    return folder


def save_ltx2_refine_lora(folder: Path) -> Path:
    """A random LoRA over the attention of the transformer in `folder`, saved where
    the dev model's distilled LoRA ships (`ltx-2-19b-distilled-lora-384.safetensors`
    at the folder's root).  Needs peft."""
    from diffusers import LTX2Pipeline, LTX2VideoTransformer3DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer = LTX2VideoTransformer3DModel.from_pretrained(
        folder / "transformer", use_safetensors=True
    )
    torch.manual_seed(0)
    transformer.add_adapter(
        LoraConfig(
            r=2, lora_alpha=2, init_lora_weights=False,
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )  # fmt: skip
    LTX2Pipeline.save_lora_weights(
        folder,
        transformer_lora_layers=get_peft_model_state_dict(transformer),
        weight_name="ltx-2-19b-distilled-lora-384.safetensors",
    )
    return folder
