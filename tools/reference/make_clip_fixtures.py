#!/usr/bin/env python3
"""Parity fixtures for the CLIP towers (ViT and ModifiedResNet), made by the reference implementations.

Builds randomly initialised models of the real CLIP architectures with open_clip (whose CLIP class has
OpenAI's parameter names and maths), saves each in the formats real checkpoints come in, and records
the reference outputs for fixed inputs:

  openai.pt                    TorchScript archive (torch.jit.script + torch.jit.save), conv/linear/
                               attention/projection weights in fp16 as OpenAI's convert_weights does,
                               with OpenAI's extra input_resolution buffer
  open_clip_model.safetensors  OpenCLIP hub layout (fp32) + open_clip_config.json
  open_clip_pytorch_model.bin  torch.save of the state dict (fp32)
  hf/ , hf-fp16/               transformers CLIPModel.save_pretrained (model.safetensors + config.json),
                               fp32 and fp16 (ViT only: transformers has no ModifiedResNet)
  reference.safetensors        inputs and outputs for the fp32 weights
  reference_fp16.safetensors   outputs for the fp16-rounded weights (what openai.pt and hf-fp16 hold)

Reference files hold: pixels [N,3,R,R] (float32, preprocessed by the reference transform), token_ids
[M,77] (int64), image_features [N,E] and text_features [M,E] (L2-normalised), logits_per_image [N,M]
(= exp(logit_scale) * cosine), logit_scale (the stored log value).

Two modes:
  default   tiny configurations with every layer type, written to testdata/clip/ (committed; ~3 MB).
            Their vocabulary is cut to 1000 ids to keep the files small, so their token sequences are
            synthetic: SOT=998, EOT=999 (the largest id, as 49407 is in CLIP), pad 0.
  --full D  full-size ViT-B/32, ViT-B/16 and RN50 (or --models) written to D/<name>/ (not committed;
            ~1 GB each), with the real tokenizer on the captions and the real preprocessing at 224 px.

Run with the reference environment (torch, open_clip_torch, transformers, safetensors, pillow):
  python tools/reference/make_clip_fixtures.py
  python tools/reference/make_clip_fixtures.py --full build/reference
It installs nothing.
"""
import argparse
import glob
import json
import math
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

import open_clip
from open_clip.model import CLIP, convert_weights_to_lp

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IMAGES = os.path.join(ROOT, "..", "shared", "data", "clip_test_images")

CAPTIONS = [
    "a page of text about segmentation",
    "a facial photo of a tabby cat",
    "a portrait of an astronaut with the American flag",
    "a rocket standing on a launchpad",
    "a red motorcycle standing in a garage",
    "a person looking at a camera on a tripod",
    "a black-and-white silhouette of a horse",
    "a cup of coffee on a saucer",
    "a diagram",
    "a dog",
    "a cat",
    "a photo of a brick wall",
    "grass in a field",
    "a pile of gravel",
    "a microscope image of cells",
    "the surface of the moon",
    "a logo",
    "coins on a table",
    "a colourful painting",
    "a photo of the hubble deep field, with thousands of galaxies in the night sky",
]

TINY = {
    "vit-tiny": dict(embed_dim=16,
                     vision_cfg=dict(layers=2, width=32, head_width=32, patch_size=8, image_size=32),
                     text_cfg=dict(context_length=77, vocab_size=1000, width=32, heads=1, layers=2)),
    "rn-tiny": dict(embed_dim=16,
                    vision_cfg=dict(layers=[1, 1, 1, 1], width=4, image_size=64),
                    text_cfg=dict(context_length=77, vocab_size=1000, width=32, heads=1, layers=2)),
}

FULL = ["ViT-B-32", "ViT-B-16", "RN50"]


def perturb_batchnorm(model, gen):
    """Gives every BatchNorm non-trivial affine parameters and running statistics."""
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            c = mod.num_features
            mod.weight.data = 1 + 0.1 * torch.randn(c, generator=gen)
            mod.bias.data = 0.1 * torch.randn(c, generator=gen)
            mod.running_mean.data = 0.1 * torch.randn(c, generator=gen)
            mod.running_var.data = 0.5 + torch.rand(c, generator=gen)


def build(cfg, seed):
    torch.manual_seed(seed)
    model = CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], quick_gelu=True).eval()
    gen = torch.Generator().manual_seed(seed + 1)
    perturb_batchnorm(model, gen)
    with torch.no_grad():
        # Random init leaves class/positional embeddings and projections at their init scales; give
        # the released value ln(100) to the logit scale so logits have the real magnitude.
        model.logit_scale.fill_(math.log(100.0))
    return model


def round_to_fp16(model):
    """A copy of the model whose every parameter and buffer is rounded to fp16 (kept in fp32)."""
    m = build_like(model)
    m.load_state_dict({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    return m


def build_like(model):
    import copy
    return copy.deepcopy(model)


def load_images(size, names=None):
    transform = open_clip.image_transform(size, is_train=False)  # OpenAI's _transform(n_px)
    paths = sorted(glob.glob(os.path.join(IMAGES, "*.png")) + glob.glob(os.path.join(IMAGES, "*.jpg")))
    if not paths:
        sys.exit(f"no images found in {IMAGES}")
    pixels = torch.stack([transform(Image.open(p)) for p in paths])
    return pixels, [os.path.basename(p) for p in paths]


def synthetic_tokens(vocab, n=20, seed=3):
    """Token sequences for the tiny models: SOT=vocab-2, random ids, EOT=vocab-1 (the largest id)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.zeros(n, 77, dtype=torch.int64)
    lengths = [1, 2, 3, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 33, 47, 48, 60, 70, 75, 75][:n]
    for i, L in enumerate(lengths):
        ids[i, 0] = vocab - 2
        ids[i, 1:1 + L] = torch.randint(1, vocab - 2, (L,), generator=g)
        ids[i, 1 + L] = vocab - 1
    return ids


@torch.no_grad()
def reference_outputs(model, pixels, ids):
    img = model.encode_image(pixels)
    txt = model.encode_text(ids)
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    scale = model.logit_scale.exp()
    return {
        "pixels": pixels.float().contiguous(),
        "token_ids": ids.contiguous(),
        "image_features": img.float().contiguous(),
        "text_features": txt.float().contiguous(),
        "logits_per_image": (scale * img @ txt.t()).float().contiguous(),
        "logit_scale": model.logit_scale.detach().float().reshape(()).contiguous(),
    }


def save_openai_torchscript(model_fp16_rounded, path, image_size, cfg):
    """A TorchScript archive shaped like OpenAI's released .pt files."""
    m = build_like(model_fp16_rounded)
    convert_weights_to_lp(m, dtype=torch.float16)  # conv/linear/attention/projections to fp16
    # OpenAI's archives carry input_resolution/context_length/vocab_size tensors beside the weights
    # (build_model deletes them); open_clip keeps the last two as plain ints, so only the first is added.
    m.register_buffer("input_resolution", torch.tensor(image_size))
    torch.jit.save(torch.jit.script(m), path)


def openclip_config(cfg, model_name=None):
    model_cfg = dict(embed_dim=cfg["embed_dim"], quick_gelu=True,
                     vision_cfg=dict(cfg["vision_cfg"]), text_cfg=dict(cfg["text_cfg"]))
    return {"model_cfg": model_cfg,
            "preprocess_cfg": {"mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD),
                               "interpolation": "bicubic", "resize_mode": "shortest"}}


def to_hf(model, cfg, eos):
    """A transformers CLIPModel holding the same weights (inverse of the HF→OpenAI conversion)."""
    from transformers import CLIPConfig, CLIPModel
    v, t = cfg["vision_cfg"], cfg["text_cfg"]
    vheads = max(v["width"] // v.get("head_width", 64), 1)
    hf_cfg = CLIPConfig(
        text_config=dict(vocab_size=t["vocab_size"], hidden_size=t["width"], intermediate_size=4 * t["width"],
                         num_hidden_layers=t["layers"], num_attention_heads=t["heads"],
                         max_position_embeddings=t["context_length"], hidden_act="quick_gelu",
                         bos_token_id=eos - 1, eos_token_id=eos, pad_token_id=0, projection_dim=cfg["embed_dim"]),
        vision_config=dict(hidden_size=v["width"], intermediate_size=4 * v["width"], num_hidden_layers=v["layers"],
                           num_attention_heads=vheads, image_size=v["image_size"], patch_size=v["patch_size"],
                           hidden_act="quick_gelu", projection_dim=cfg["embed_dim"]),
        projection_dim=cfg["embed_dim"])
    hf = CLIPModel(hf_cfg).eval()
    sd = model.state_dict()
    new = {}

    def block(src, dst, layers):
        for i in range(layers):
            s, d = f"{src}.resblocks.{i}.", f"{dst}.layers.{i}."
            q, k, vv = sd[s + "attn.in_proj_weight"].chunk(3, 0)
            qb, kb, vb = sd[s + "attn.in_proj_bias"].chunk(3, 0)
            new.update({d + "self_attn.q_proj.weight": q, d + "self_attn.k_proj.weight": k,
                        d + "self_attn.v_proj.weight": vv, d + "self_attn.q_proj.bias": qb,
                        d + "self_attn.k_proj.bias": kb, d + "self_attn.v_proj.bias": vb,
                        d + "self_attn.out_proj.weight": sd[s + "attn.out_proj.weight"],
                        d + "self_attn.out_proj.bias": sd[s + "attn.out_proj.bias"],
                        d + "layer_norm1.weight": sd[s + "ln_1.weight"], d + "layer_norm1.bias": sd[s + "ln_1.bias"],
                        d + "layer_norm2.weight": sd[s + "ln_2.weight"], d + "layer_norm2.bias": sd[s + "ln_2.bias"],
                        d + "mlp.fc1.weight": sd[s + "mlp.c_fc.weight"], d + "mlp.fc1.bias": sd[s + "mlp.c_fc.bias"],
                        d + "mlp.fc2.weight": sd[s + "mlp.c_proj.weight"], d + "mlp.fc2.bias": sd[s + "mlp.c_proj.bias"]})

    block("visual.transformer", "vision_model.encoder", v["layers"])
    block("transformer", "text_model.encoder", t["layers"])
    new.update({
        "vision_model.embeddings.patch_embedding.weight": sd["visual.conv1.weight"],
        "vision_model.embeddings.class_embedding": sd["visual.class_embedding"],
        "vision_model.embeddings.position_embedding.weight": sd["visual.positional_embedding"],
        "vision_model.pre_layrnorm.weight": sd["visual.ln_pre.weight"],
        "vision_model.pre_layrnorm.bias": sd["visual.ln_pre.bias"],
        "vision_model.post_layernorm.weight": sd["visual.ln_post.weight"],
        "vision_model.post_layernorm.bias": sd["visual.ln_post.bias"],
        "visual_projection.weight": sd["visual.proj"].t(),
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_model.final_layer_norm.weight": sd["ln_final.weight"],
        "text_model.final_layer_norm.bias": sd["ln_final.bias"],
        "text_projection.weight": sd["text_projection"].t(),
        "logit_scale": sd["logit_scale"],
    })
    missing, unexpected = hf.load_state_dict({k: v.contiguous() for k, v in new.items()}, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    assert not missing and not unexpected, (missing, unexpected)
    return hf


@torch.no_grad()
def check_hf(hf, ref, atol=2e-5):
    img = hf.get_image_features(pixel_values=ref["pixels"])
    txt = hf.get_text_features(input_ids=ref["token_ids"])
    img = getattr(img, "pooler_output", img)
    txt = getattr(txt, "pooler_output", txt)
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    di = (img - ref["image_features"]).abs().max().item()
    dt = (txt - ref["text_features"]).abs().max().item()
    assert di < atol and dt < atol, f"HF model disagrees with open_clip: image {di}, text {dt}"
    return max(di, dt)


def write(outdir, name, cfg, model, pixels, ids, is_vit, eos):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    ref = reference_outputs(model, pixels, ids)
    save_file(ref, os.path.join(d, "reference.safetensors"))
    save_file(sd, os.path.join(d, "open_clip_model.safetensors"))
    torch.save(sd, os.path.join(d, "open_clip_pytorch_model.bin"))
    with open(os.path.join(d, "open_clip_config.json"), "w") as f:
        json.dump(openclip_config(cfg), f, indent=2)
    m16 = round_to_fp16(model)
    ref16 = reference_outputs(m16, pixels, ids)
    del ref16["pixels"], ref16["token_ids"]  # same inputs as reference.safetensors
    save_file(ref16, os.path.join(d, "reference_fp16.safetensors"))
    save_openai_torchscript(m16, os.path.join(d, "openai.pt"), cfg["vision_cfg"]["image_size"], cfg)
    report = {"name": name}
    if is_vit:
        hf = to_hf(model, cfg, eos)
        report["hf_vs_open_clip_max_abs"] = check_hf(hf, ref)
        hf.save_pretrained(os.path.join(d, "hf"), safe_serialization=True)
        hf16 = to_hf(m16, cfg, eos).half()
        hf16.save_pretrained(os.path.join(d, "hf-fp16"), safe_serialization=True)
    print(json.dumps(report))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "testdata", "clip"))
    ap.add_argument("--full", metavar="DIR", help="write full-size models to DIR instead of the tiny fixtures")
    ap.add_argument("--models", default=",".join(FULL), help="full-size open_clip model names")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.full:
        for i, name in enumerate(args.models.split(",")):
            cfg = open_clip.get_model_config(name)
            cfg = dict(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"])
            model = build(cfg, seed=100 + i)
            pixels, names = load_images(cfg["vision_cfg"]["image_size"])
            ids = open_clip.tokenize(CAPTIONS)
            write(args.full, name, cfg, model, pixels, ids, is_vit=isinstance(cfg["vision_cfg"]["layers"], int), eos=49407)
            with open(os.path.join(args.full, name, "inputs.json"), "w") as f:
                json.dump({"images": names, "captions": CAPTIONS}, f, indent=2)
        return
    for i, (name, cfg) in enumerate(TINY.items()):
        model = build(cfg, seed=10 + i)
        pixels, names = load_images(cfg["vision_cfg"]["image_size"])
        if cfg["vision_cfg"]["image_size"] > 32:
            pixels = pixels[:10]  # keeps the committed fixture small
        ids = synthetic_tokens(cfg["text_cfg"]["vocab_size"])
        write(args.out, name, cfg, model, pixels, ids, is_vit=isinstance(cfg["vision_cfg"]["layers"], int), eos=999)


if __name__ == "__main__":
    main()
