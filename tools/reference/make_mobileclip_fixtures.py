#!/usr/bin/env python3
"""Make the MobileCLIP parity fixtures for cliplib/model/mobileclip.

Runs with the reference environment (/root/refenv: torch, timm, open_clip) plus Apple's
ml-mobileclip source on PYTHONPATH (its `mobileclip` package; the PyPI package of that name is an
unrelated placeholder). This script installs nothing and downloads nothing:

    PYTHONPATH=/path/to/ml-mobileclip /root/refenv/bin/python tools/reference/make_mobileclip_fixtures.py
    ... --full build/reference/mobileclip     # also the full-size S0 and S2 (≈1 GB, git-ignored)

Every model is randomly initialised with non-trivial BatchNorm statistics, layer scales and norm
affines, so that every branch of every block matters. For each model it writes, under
testdata/mobileclip/<name>/ (or the --full directory):

    inputs.safetensors    pixels [N, 3, R, R] (tower input, already normalised), ids [M, 77] (I64)
    outputs.safetensors   image_features, text_features (L2-normalised), logits_per_image
                          (= exp(logit_scale) · img · txtᵀ), all float32
    openclip.safetensors  the weights in the OpenCLIP / timm hub layout, train-time branches
                          (test-S2, S3, B2; full-size S0 and S2)
    apple.pt              the weights in Apple's original layout (torch.save of the state dict),
                          (test-S0, test-B; full-size S0 and S2)
    folded.safetensors    (test-S0) the re-parameterised weights as timm (reparameterize_model,
                          image) and Apple (reparameterize_model, mct text) fold them, in the
                          internal naming

Models (the Go registry has the same names and layouts):

    MobileCLIP-test-S0    mci-test image (4 stages, as mci0..2) + "mct" text      Apple code
    MobileCLIP-test-S2    mci-test image + base text (non-causal)                 Apple code, open_clip
    MobileCLIP2-test-S3   mci-test5 image (5 stages, as mci3/4) + base text       open_clip + timm
    MobileCLIP-test-B     ViT with conv stem, padding 1, LN eps 1e-5 + causal     Apple code
    MobileCLIP2-test-B    ViT with conv stem, padding 0, LN eps 1e-6 (64 px) + causal   open_clip + timm
    --full: MobileCLIP-S0 (Apple code), MobileCLIP-S2 (Apple code and open_clip)

Where two implementations exist (Apple's and open_clip/timm's after their own checkpoint
conversion), the script checks that they agree before writing anything.
"""
import argparse
import math
import os
import sys
from functools import partial

import torch
import torch.nn as nn
from safetensors.torch import save_file

import open_clip
import timm
from open_clip.model import CustomTextCLIP
from timm.layers import LayerNorm2d
from timm.models import register_model
from timm.models.fastvit import FastVit, RepConditionalPosEnc, checkpoint_filter_fn as fastvit_filter
from timm.models.vision_transformer import VisionTransformer
from timm.models.vision_transformer_hybrid import ConvStem, HybridEmbed, _convert_mobileclip
from timm.utils.model import reparameterize_model as timm_reparameterize

try:
    import mobileclip  # noqa: F401  (Apple's ml-mobileclip source)
    from mobileclip.clip import CLIP as AppleCLIP
    from mobileclip.models.mci import FastViT as AppleFastViT, RepCPE as AppleRepCPE
    from mobileclip.modules.common.mobileone import reparameterize_model as apple_reparameterize
    from mobileclip.models.vit import VisionTransformer as AppleViT
except ImportError as e:  # pragma: no cover
    sys.exit(f"Apple's mobileclip package is not importable ({e}); put the ml-mobileclip source on PYTHONPATH")

torch.set_num_threads(2)
TOL = 1e-5
VOCAB_TEST = 500
CONTEXT = 77
EMBED_TEST = 32


# ---------------------------------------------------------------------------------------------
# Test layouts, registered in timm's registry (open_clip builds image towers from timm names)
# and in Apple's (its CLIP class builds image towers from timm names too).

def _strip(kwargs):
    for k in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir", "pretrained"):
        kwargs.pop(k, None)
    return kwargs


MCI_TEST = dict(layers=(1, 2, 1, 1), embed_dims=(16, 16, 32, 64), mlp_ratios=(3, 3, 3, 3),
                se_downsamples=(False, False, True, True),
                token_mixers=("repmixer", "repmixer", "repmixer", "attention"))


@register_model
def fastvit_mci_test(pretrained=False, **kwargs):
    args = dict(MCI_TEST, pos_embs=(None, None, None, partial(RepConditionalPosEnc, spatial_shape=(7, 7))),
                lkc_use_act=True)
    return FastVit(**dict(args, **_strip(kwargs)))


@register_model
def fastvit_mci_test5(pretrained=False, **kwargs):
    rcpe = partial(RepConditionalPosEnc, spatial_shape=(7, 7))
    args = dict(layers=(1, 1, 1, 1, 1), embed_dims=(16, 16, 32, 32, 32), mlp_ratios=(4,) * 5,
                se_downsamples=(False,) * 5, downsamples=(False, True, True, True, True),
                pos_embs=(None, None, None, rcpe, rcpe),
                token_mixers=("repmixer", "repmixer", "repmixer", "attention", "attention"),
                lkc_use_act=True, norm_layer=partial(LayerNorm2d, eps=1e-5), stem_use_scale_branch=False)
    return FastVit(**dict(args, **_strip(kwargs)))


def vit_mci_test(img_size, **kwargs):
    """timm's vit_base_mci_224 at width 32 (stem width max(32, 32/4) = 32), 2 blocks, 2 heads."""
    kwargs = _strip(kwargs)
    backbone = ConvStem(channels=(32, 32, 32), stride=(4, 2, 2), kernel_size=(4, 2, 2), padding=0,
                        act_layer=nn.GELU)
    return VisionTransformer(img_size=img_size, patch_size=1, embed_dim=32, depth=2, num_heads=2, no_embed_class=True,
                             embed_layer=partial(HybridEmbed, backbone=backbone, proj=False), **kwargs)


@register_model
def vit_mci_test224(pretrained=False, **kwargs):
    return vit_mci_test(224, **kwargs)


@register_model
def vit_mci_test64(pretrained=False, **kwargs):
    return vit_mci_test(64, **kwargs)


@register_model
def apple_mci_test(pretrained=False, **kwargs):
    """The same layout with Apple's FastViT class (mci.py)."""
    kwargs = _strip(kwargs)
    return AppleFastViT(list(MCI_TEST["layers"]), token_mixers=MCI_TEST["token_mixers"],
                        embed_dims=list(MCI_TEST["embed_dims"]), mlp_ratios=list(MCI_TEST["mlp_ratios"]),
                        downsamples=[True] * 4, se_downsamples=list(MCI_TEST["se_downsamples"]),
                        pos_embs=[None, None, None, partial(AppleRepCPE, spatial_shape=(7, 7))], **kwargs)


@register_model
def apple_vit_test(pretrained=False, **kwargs):
    """Apple's vit_b16 at width 32, 2 blocks, 2 heads (input must stay 224: 196 positions)."""
    cfg = {"norm_layer": "layer_norm_fp32", "act_layer": "gelu", "embed_dim": 32, "n_transformer_layers": 2,
           "n_attn_heads": 2}
    return AppleViT(cfg=cfg, **_strip(kwargs))


def apple_text_cfg(width, layers, heads, vocab, causal, variant):
    return {"context_length": CONTEXT, "vocab_size": vocab, "dim": width, "ffn_multiplier_per_layer": 4.0,
            "n_heads_per_layer": heads, "n_transformer_layers": layers, "norm_layer": "layer_norm_fp32",
            "causal_masking": causal, "model_name": variant}


def openclip_text_cfg(width, layers, heads, vocab, causal):
    return {"context_length": CONTEXT, "vocab_size": vocab, "width": width, "heads": heads, "layers": layers,
            "no_causal_mask": not causal}


# ---------------------------------------------------------------------------------------------
# Random but non-trivial parameters.

def randomize(model, gen):
    """Give every norm, layer scale and projection values that make each branch matter."""
    def u(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=gen)

    def n(shape, std):
        return torch.randn(shape, generator=gen) * std

    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.running_mean.copy_(n(c, 0.5))
                mod.running_var.copy_(u(c, 0.5, 2.0))
                mod.weight.copy_(u(c, 0.5, 1.5))
                mod.bias.copy_(n(c, 0.2))
            elif isinstance(mod, nn.LayerNorm) or type(mod).__name__ in ("LayerNormChannel",):
                mod.weight.copy_(u(mod.weight.shape, 0.8, 1.2))
                mod.bias.copy_(n(mod.bias.shape, 0.05))
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if "layer_scale" in name:  # Apple: ...layer_scale[_1|_2]; timm: ...layer_scale*.gamma
                p.copy_(u(p.shape, 0.2, 0.8))
            elif leaf in ("projection_layer", "text_projection"):  # Apple leaves it torch.empty
                p.copy_(n(p.shape, p.shape[0] ** -0.5))
            elif name.endswith("head.fc.bias") or name.endswith("head.bias"):
                p.copy_(n(p.shape, 0.02))
            elif leaf in ("bias",) and p.abs().sum() == 0 and p.dim() == 1:
                p.copy_(n(p.shape, 0.02))  # conv / linear biases initialised to zero
        if hasattr(model, "logit_scale"):
            model.logit_scale.fill_(math.log(1 / 0.07))
    return model


def inputs(res, vocab, gen, n_images=2):
    # Pixels are rounded to float16 values and stored as F16 (exactly), to keep the files small.
    pixels = torch.rand((n_images, 3, res, res), generator=gen).half().float()
    rows = []
    for length in (5, 17, CONTEXT):  # the last one fills the context: EOT at position 76
        ids = torch.zeros(CONTEXT, dtype=torch.long)
        ids[0] = vocab - 2  # start of text
        ids[1:length - 1] = torch.randint(1, vocab - 2, (length - 2,), generator=gen)
        ids[length - 1] = vocab - 1  # end of text: the largest id
        rows.append(ids)
    return pixels, torch.stack(rows)


def features(encode_image, encode_text, logit_scale, pixels, ids):
    with torch.no_grad():
        img = encode_image(pixels)
        txt = encode_text(ids)
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        return {"image_features": img.float().contiguous(), "text_features": txt.float().contiguous(),
                "logits_per_image": (logit_scale.exp() * img @ txt.T).float().contiguous()}


def check_close(what, a, b, tol=TOL):
    for k in a:
        d = (a[k] - b[k]).abs().max().item()
        print(f"  {what}: {k} max |diff| = {d:.3g}")
        if d > tol:
            sys.exit(f"{what}: {k} differs by {d} > {tol}")


# ---------------------------------------------------------------------------------------------
# Layout conversions (Apple -> internal). The image part uses timm's own converters; the text
# part follows open_clip's convert_mobile_clip_state_dict, extended to the mct RepMixer blocks
# with timm's RepMixerBlock names (what cliplib/checkpoint/layout_mobileclip.go does).

TEXT_RENAMES = [
    ("pre_norm_mha.0", "ln_1"), ("pre_norm_mha.1.qkv_proj.weight", "attn.in_proj_weight"),
    ("pre_norm_mha.1.qkv_proj.bias", "attn.in_proj_bias"), ("pre_norm_mha.1", "attn"),
    ("pre_norm_ffn.0", "ln_2"), ("pre_norm_ffn.1", "mlp.c_fc"), ("pre_norm_ffn.4", "mlp.c_proj"),
]
MIXER_RENAMES = [("rbr_conv", "conv_kxk"), ("rbr_scale", "conv_scale"), ("rbr_skip", "identity"),
                 ("rbr_reparam", "reparam_conv"), ("convffn", "mlp")]


def apple_text_to_internal(sd):
    out = {}
    for k, v in sd.items():
        if not k.startswith("text_encoder.") or k.endswith("num_batches_tracked"):
            continue
        k = k[len("text_encoder."):]
        if k == "embedding_layer.weight":
            k = "token_embedding.weight"
        elif k == "positional_embedding.pos_embed.pos_embed":
            k, v = "positional_embedding", v.reshape(v.shape[-2], v.shape[-1])
        elif k == "projection_layer":
            k = "text_projection"
        elif k.startswith("final_layer_norm."):
            k = "ln_final." + k[len("final_layer_norm."):]
        elif k.startswith("transformer."):
            rest = k[len("transformer."):]
            if ".pre_norm_" in rest:
                for a, b in TEXT_RENAMES:
                    rest = rest.replace(a, b)
            else:
                for a, b in MIXER_RENAMES:
                    rest = rest.replace(a, b)
                if rest.endswith("layer_scale"):
                    rest += ".gamma"
            k = "transformer.resblocks." + rest
        out["text." + k] = v
    return out


def apple_to_internal(sd, image_model, vit=False):
    if vit:
        img = _convert_mobileclip(sd, image_model)
    else:
        img = fastvit_filter(sd, image_model)
    out = {"visual.trunk." + k: v for k, v in img.items() if not k.endswith("num_batches_tracked")}
    out.update(apple_text_to_internal(sd))
    out["logit_scale"] = sd["logit_scale"]
    return out


def drop_counters(sd):
    return {k: v.detach().clone().contiguous() for k, v in sd.items() if not k.endswith("num_batches_tracked")}


# ---------------------------------------------------------------------------------------------

def save(outdir, name, files):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    for fname, obj in files.items():
        path = os.path.join(d, fname)
        if fname.endswith(".safetensors"):
            save_file({k: v.detach().contiguous() for k, v in obj.items()}, path)
        else:
            torch.save(obj, path)
        print(f"  wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


def apple_clip(image_name, res, text_cfg, embed):
    cfg = {"embed_dim": embed, "image_cfg": {"image_size": res, "model_name": image_name}, "text_cfg": text_cfg}
    return AppleCLIP(cfg=cfg).eval()


def openclip_model(timm_name, res, text_cfg, embed, pool):
    vision = {"timm_model_name": timm_name, "timm_model_pretrained": False, "timm_pool": pool, "timm_proj": None,
              "timm_drop": 0.0, "timm_drop_path": 0.0, "image_size": res}
    return CustomTextCLIP(embed_dim=embed, vision_cfg=vision, text_cfg=text_cfg).eval()


def make_apple_mci(outdir, name, image_name, timm_name, res, width, layers, heads, vocab, variant, embed,
                   seed, also_openclip, files_wanted):
    """A model Apple's code defines with an MCi image tower (S0: mct text, S1/S2: base text)."""
    print(name)
    gen = torch.Generator().manual_seed(seed)
    apple = randomize(apple_clip(image_name, res, apple_text_cfg(width, layers, heads, vocab, False, variant), embed), gen)
    apple_sd = apple.state_dict()
    pixels, ids = inputs(res, vocab, gen)
    ref = features(lambda x: apple.encode_image(x), lambda t: apple.encode_text(t), apple.logit_scale, pixels, ids)
    folded_apple = apple_reparameterize(apple).eval()
    check_close("Apple re-parameterised vs train-time", ref,
                features(folded_apple.encode_image, folded_apple.encode_text, folded_apple.logit_scale, pixels, ids))

    # The image tower in timm (the internal naming), loaded strictly from Apple's weights.
    trunk = timm.create_model(timm_name, num_classes=embed, global_pool="avg").eval()
    internal = apple_to_internal(apple_sd, trunk)
    trunk_sd = {k[len("visual.trunk."):]: v for k, v in internal.items() if k.startswith("visual.trunk.")}
    missing, unexpected = trunk.load_state_dict(trunk_sd, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit(f"timm {timm_name} does not take the converted weights: missing {missing}, unexpected {unexpected}")
    check_close("timm image tower vs Apple", {"image_features": ref["image_features"]},
                {"image_features": torch.nn.functional.normalize(trunk(pixels).detach(), dim=-1)})

    files = {"inputs.safetensors": {"pixels": pixels.half(), "ids": ids}, "outputs.safetensors": ref}
    if "apple" in files_wanted:
        files["apple.pt"] = apple_sd
    if "openclip" in files_wanted:
        files["openclip.safetensors"] = drop_counters(internal)
    if also_openclip:  # open_clip's own conversion and model must agree too
        oc = openclip_model(timm_name, res, openclip_text_cfg(width, layers, heads, vocab, False), embed, "avg")
        oc_sd = open_clip.convert.convert_mobile_clip_state_dict(oc, apple_sd)
        oc.load_state_dict(oc_sd, strict=True)
        check_close("open_clip vs Apple", ref, features(oc.encode_image, oc.encode_text, oc.logit_scale, pixels, ids))
        if set(drop_counters(oc_sd)) != set(drop_counters(internal)):
            sys.exit("open_clip's conversion and this script's disagree on the key set")
    if "folded" in files_wanted:
        folded = {"visual.trunk." + k: v for k, v in timm_reparameterize(trunk).state_dict().items()}
        folded.update(apple_text_to_internal(folded_apple.state_dict()))
        folded["logit_scale"] = apple_sd["logit_scale"]
        files["folded.safetensors"] = drop_counters(folded)
    save(outdir, name, files)


def make_apple_vit(outdir, name, seed):
    """MobileCLIP-B's layout with Apple's code: stem padding 1, LayerNorm eps 1e-5, causal text."""
    print(name)
    gen = torch.Generator().manual_seed(seed)
    apple = randomize(apple_clip("apple_vit_test", 224, apple_text_cfg(32, 2, 2, VOCAB_TEST, True, "base"),
                                 EMBED_TEST), gen)
    apple_sd = apple.state_dict()
    pixels, ids = inputs(224, VOCAB_TEST, gen, n_images=1)  # 224 px images are the bulk of the bytes
    ref = features(apple.encode_image, apple.encode_text, apple.logit_scale, pixels, ids)
    trunk = timm.create_model("vit_mci_test224", num_classes=EMBED_TEST, global_pool="token").eval()
    internal = apple_to_internal(apple_sd, trunk, vit=True)
    trunk.load_state_dict({k[len("visual.trunk."):]: v for k, v in internal.items() if k.startswith("visual.trunk.")},
                          strict=True)
    timm_img = torch.nn.functional.normalize(trunk(pixels).detach(), dim=-1)
    d = (timm_img - ref["image_features"]).abs().max().item()
    print(f"  timm (padding 0, eps 1e-6) vs Apple (padding 1, eps 1e-5) on the same weights: max |diff| = {d:.3g}")
    save(outdir, name, {"inputs.safetensors": {"pixels": pixels.half(), "ids": ids}, "outputs.safetensors": ref,
                        "apple.pt": apple_sd})


def make_openclip(outdir, name, timm_name, res, pool, causal, seed):
    """A MobileCLIP2-style model built by open_clip + timm (the OpenCLIP layout only)."""
    print(name)
    gen = torch.Generator().manual_seed(seed)
    oc = randomize(openclip_model(timm_name, res, openclip_text_cfg(32, 2, 2, VOCAB_TEST, causal), EMBED_TEST, pool), gen)
    pixels, ids = inputs(res, VOCAB_TEST, gen)
    ref = features(oc.encode_image, oc.encode_text, oc.logit_scale, pixels, ids)
    sd = drop_counters(oc.state_dict())
    save(outdir, name, {"inputs.safetensors": {"pixels": pixels.half(), "ids": ids}, "outputs.safetensors": ref,
                        "openclip.safetensors": sd})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="testdata/mobileclip", help="directory of the small fixtures")
    ap.add_argument("--full", default="", help="also write the full-size MobileCLIP-S0 and -S2 here")
    args = ap.parse_args()
    torch.manual_seed(0)
    make_apple_mci(args.out, "MobileCLIP-test-S0", "apple_mci_test", "fastvit_mci_test", 80, 32, 2, 2, VOCAB_TEST,
                   "mct", EMBED_TEST, seed=10, also_openclip=False, files_wanted=("apple", "folded"))
    make_apple_mci(args.out, "MobileCLIP-test-S2", "apple_mci_test", "fastvit_mci_test", 80, 32, 2, 2, VOCAB_TEST,
                   "base", EMBED_TEST, seed=11, also_openclip=True, files_wanted=("openclip",))
    make_openclip(args.out, "MobileCLIP2-test-S3", "fastvit_mci_test5", 96, "avg", False, seed=12)
    make_apple_vit(args.out, "MobileCLIP-test-B", seed=13)
    make_openclip(args.out, "MobileCLIP2-test-B", "vit_mci_test64", 64, "token", True, seed=14)
    if args.full:
        make_apple_mci(args.full, "MobileCLIP-S0", "mci0", "fastvit_mci0", 256, 512, 4, 8, 49408, "mct", 512,
                       seed=20, also_openclip=False, files_wanted=("apple", "openclip"))
        make_apple_mci(args.full, "MobileCLIP-S2", "mci2", "fastvit_mci2", 256, 512, 12, 8, 49408, "base", 512,
                       seed=21, also_openclip=True, files_wanted=("apple", "openclip"))


if __name__ == "__main__":
    main()
