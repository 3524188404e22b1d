"""Tiny randomly initialised image pipelines, built in code, for tests: FLUX.2
Klein, Qwen-Image-Edit-Plus and FLUX.1 Kontext.

As `backends.tiny` does for the video models: the real classes at widths of a
few channels, random weights, tokenizers made from in-memory vocabularies, the
folder written with `save_pretrained` and loaded by the image backends as a
downloaded one would be.  Nothing comes from a hub.  The pictures are noise;
they exist to check plumbing: which pictures reach the pipeline, and what it
gives back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .tiny import _characters, t5_tokenizer

# The Qwen chat format's special tokens, and Qwen2-VL's picture markers.
QWEN_SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen_tokenizer():
    """A character-level Qwen2 tokenizer (byte-level BPE, no merges) with Qwen's
    special tokens and a chat template, from an in-memory vocabulary."""
    from transformers import Qwen2Tokenizer

    vocab = {token: index for index, token in enumerate(["Ġ", "Ċ", *_characters()])}
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=[], unk_token=None, bos_token=None,
        eos_token="<|im_end|>", pad_token="<|endoftext|>",
    )  # fmt: skip
    tokenizer.add_special_tokens({"additional_special_tokens": QWEN_SPECIALS})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


# ---------------------------------------------------------------- FLUX.2 Klein


def flux2_klein_pipeline(distilled: bool = True):
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = qwen_tokenizer()
    torch.manual_seed(0)
    # 28 layers: the pipeline reads hidden states 9, 18 and 27, as of Qwen3-4B.
    text_encoder = Qwen3ForCausalLM(
        Qwen3Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                    num_hidden_layers=28, num_attention_heads=2, num_key_value_heads=1,
                    head_dim=8, max_position_embeddings=1024)
    ).eval()  # fmt: skip
    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=3 * 16,
        timestep_guidance_channels=32, axes_dims_rope=(4, 4, 4, 4), guidance_embeds=False,
    )  # fmt: skip
    torch.manual_seed(0)
    vae = AutoencoderKLFlux2(
        block_out_channels=(8, 8), layers_per_block=1, latent_channels=4, norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        mid_block_add_attention=False,
    )  # fmt: skip
    return Flux2KleinPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, transformer=transformer, is_distilled=distilled,
    )  # fmt: skip


def save_flux2_klein(folder: Path, distilled: bool = True) -> Path:
    flux2_klein_pipeline(distilled).save_pretrained(folder, safe_serialization=True)
    return folder


# ------------------------------------------------------- Qwen-Image-Edit-Plus


def qwen_image_edit_plus_pipeline():
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImageEditPlusPipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
    )

    from .image_diffusers import pictures_only_processor

    tokenizer = qwen_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in QWEN_SPECIALS}
    # Few picture tokens: the processor's pictures are at most 8x8 patches of 28 px.
    pictures = Qwen2VLImageProcessorPil(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64)
    processor = pictures_only_processor()(image_processor=pictures, tokenizer=tokenizer)
    torch.manual_seed(0)
    text_config = {
        "vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
        "max_position_embeddings": 2048, "rope_theta": 10000.0,
        "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]},
        "bos_token_id": None, "eos_token_id": ids["<|im_end|>"],
    }  # fmt: skip
    vision_config = {
        "depth": 1, "hidden_size": 16, "intermediate_size": 32, "num_heads": 2,
        "out_hidden_size": 16, "patch_size": 14, "spatial_merge_size": 2,
        "temporal_patch_size": 2, "fullatt_block_indexes": [0], "window_size": 56,
    }  # fmt: skip
    text_encoder = Qwen2_5_VLForConditionalGeneration(
        Qwen2_5_VLConfig(
            text_config=text_config, vision_config=vision_config,
            image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
        )
    ).eval()  # fmt: skip
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=16, out_channels=4, num_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=16, axes_dims_rope=(2, 2, 4),
    )  # fmt: skip
    torch.manual_seed(0)
    vae = AutoencoderKLQwenImage(
        base_dim=4, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
        temperal_downsample=[False, True, True], latents_mean=[0.0] * 4, latents_std=[1.0] * 4,
    )  # fmt: skip
    return QwenImageEditPlusPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder,
        tokenizer=tokenizer, processor=processor, transformer=transformer,
    )  # fmt: skip


def save_qwen_image_edit_plus(folder: Path) -> Path:
    """The folder as the published one names its parts: the processor is Qwen2-VL's
    (the pictures-only stand-in it is built with here saves the same files)."""
    qwen_image_edit_plus_pipeline().save_pretrained(folder, safe_serialization=True)
    index = folder / "model_index.json"
    data = json.loads(index.read_text())
    data["processor"] = ["transformers", "Qwen2VLProcessor"]
    index.write_text(json.dumps(data, indent=2))
    for name in ("processor_config.json", "tokenizer_config.json"):
        path = folder / "processor" / name
        config = json.loads(path.read_text())
        config["processor_class"] = "Qwen2VLProcessor"
        path.write_text(json.dumps(config, indent=2))
    return folder


# ------------------------------------------------------------ FLUX.1 Kontext


def clip_tokenizer():
    """A character-level CLIP tokenizer (BPE, no merges) from an in-memory vocabulary."""
    from transformers import CLIPTokenizer

    characters = _characters()
    words = ["<|startoftext|>", "<|endoftext|>", *characters, *(c + "</w>" for c in characters)]
    vocab = {token: index for index, token in enumerate(words)}
    return CLIPTokenizer(
        vocab=vocab, merges=[], unk_token="<|endoftext|>", bos_token="<|startoftext|>",
        eos_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=77,
    )  # fmt: skip


def flux_kontext_pipeline():
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxKontextPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    tokenizer, tokenizer_2 = clip_tokenizer(), t5_tokenizer()
    torch.manual_seed(0)
    clip = CLIPTextModel(
        CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                       num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77,
                       projection_dim=16, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    ).eval()  # fmt: skip
    torch.manual_seed(0)
    t5 = T5EncoderModel(
        T5Config(vocab_size=len(tokenizer_2), d_model=16, d_kv=8, d_ff=32, num_layers=1,
                 num_heads=2, relative_attention_num_buckets=8)
    ).eval()  # fmt: skip
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=16,
        axes_dims_rope=(4, 6, 6), guidance_embeds=True,
    )  # fmt: skip
    torch.manual_seed(0)
    # Four blocks: the real VAE's 8x compression, so the reference Kontext resizes
    # to a megapixel is 4096 tokens, not 65536.
    vae = AutoencoderKL(
        block_out_channels=(4, 4, 4, 4), layers_per_block=1, latent_channels=4,
        norm_num_groups=4, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, use_quant_conv=False,
        use_post_quant_conv=False, shift_factor=0.0, scaling_factor=1.0,
    )  # fmt: skip
    return FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=clip,
        tokenizer=tokenizer, text_encoder_2=t5, tokenizer_2=tokenizer_2, transformer=transformer,
    )  # fmt: skip


def save_flux_kontext(folder: Path) -> Path:
    flux_kontext_pipeline().save_pretrained(folder, safe_serialization=True)
    return folder
