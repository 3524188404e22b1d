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
load like a real one.
"""

from __future__ import annotations

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


def ltx2_components() -> dict:
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
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
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "vae": vae,
        "audio_vae": audio_vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "connectors": connectors,
        "transformer": transformer,
        "vocoder": vocoder,
    }


def ltx2_pipeline():
    from diffusers import LTX2Pipeline

    return LTX2Pipeline(**ltx2_components())


def save_ltx2(folder: Path) -> Path:
    """A tiny LTX-2 model folder, as `save_pretrained` writes it."""
    ltx2_pipeline().save_pretrained(folder)
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
