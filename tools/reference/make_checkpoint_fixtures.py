#!/usr/bin/env python3
"""Make the checkpoint-reader fixtures in testdata/checkpoint/ (for cliplib/checkpoint tests).

Run from the repository root with the reference environment (installs nothing):

    /root/refenv/bin/python tools/reference/make_checkpoint_fixtures.py

It writes small files (well under 1 MB in all) with torch / safetensors / open_clip / transformers,
plus expected.json holding the values torch itself reports for them (float32 bit patterns,
SHA-256 digests of float32 bytes, key lists), so the Go tests compare against torch, not against
numbers typed by hand.

Fixtures:
  st_f32.safetensors, st_f16.safetensors, st_bf16.safetensors  known values (specials included)
  st_dtypes.safetensors          F64 I64 I32 I16 I8 U8 BOOL tensors
  torch_save.pt                  torch.save zip: fp32/fp16/bf16/int64/... tensors, a transposed
                                 view sharing its storage, offset and strided slices, a Parameter,
                                 a nested dict and non-tensor values
  torch_save_p4.pt               the same kind of dict pickled with protocol 4
  torch_save_checkpoint.pt       {"epoch": .., "state_dict": {...}} training-checkpoint shape
  torch_module.pt                torch.save(nn.Linear) (a pickled Module: must be refused)
  legacy.pt                      torch.save(..., _use_new_zipfile_serialization=False)
  evil_os_system.pt              zip whose data.pkl is GLOBAL os.system + REDUCE
  evil_eval.pt                   zip whose data.pkl calls builtins.eval
  evil_in_state_dict.pt          torch.save of a valid dict with one value reducing to posix.system
  script_nested.pt               torch.jit.script of a tiny nested module (ModuleList, buffer, fp16)
  openclip_tiny/open_clip_pytorch_model.bin  torch.save(state_dict()) of a tiny open_clip CLIP
                                 (ViT, width 64 = 1 head, one block per tower, OpenAI-style fp16
                                 matrices)
  openclip_tiny/traced.pt        the same model as torch.jit.trace_module(forward, encode_image,
                                 encode_text) + torch.jit.save: an archive shaped like OpenAI's .pt
  hf_tiny_clip/model.safetensors + config.json  transformers CLIPModel holding the same weights
                                 (fp32), built with the inverse of the HF->OpenAI mapping and
                                 checked to give the same image/text features as open_clip.
The malicious files are never loaded here.

Re-running gives identical files except legacy.pt and the TorchScript archives, whose bytes vary
(storage ids, .data/serialization_id, attribute order in code/); their tensors, and expected.json,
do not change.
"""

import copy
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import warnings
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file

warnings.filterwarnings("ignore")
OUT = os.path.join("testdata", "checkpoint")
# Marker path the malicious pickles would create if something ever executed them.
PWN_MARKER = "/tmp/clipkit_checkpoint_pwned"


def f32_bits(t):
    """float32 bit patterns of t.float() (what torch's .float() produces), as ints."""
    a = t.detach().float().contiguous().numpy().reshape(-1)
    return [int(x) for x in a.view(np.uint32)]


def f32_sha(t):
    return hashlib.sha256(t.detach().float().contiguous().numpy().tobytes()).hexdigest()


def describe(t, full=True):
    d = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", "")}
    if t.dtype.is_floating_point:
        if full:
            d["f32bits"] = f32_bits(t)
        d["sha256"] = f32_sha(t)
    else:
        d["ints"] = [str(int(x)) for x in t.detach().reshape(-1).tolist()]
    return d


def special_values():
    # normal, subnormal (fp16 and bf16), extremes, infinities, NaN, negative zero, rounding cases
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, 1.0 / 3.0, 3.14159265, 65504.0, -65504.0, 6.1035156e-05,
            5.9604645e-08, 1.0e-40, 3.0e38, float("inf"), float("-inf"), float("nan"), 1.0009765625,
            2.0 ** -14, 1e-3, 123.456]
    return torch.tensor(vals, dtype=torch.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(1234)
    expected = {"fixtures": {}}

    # ---- safetensors with known values -------------------------------------------------------
    base = {
        "special": special_values(),
        "matrix": torch.randn(3, 5),
        "scalar": torch.tensor(2.75),
        "empty": torch.zeros(0, 3),
        "conv.weight": torch.randn(2, 3, 2, 2),
    }
    # One metadata key: safetensors writes metadata in hash order, so several keys would make the
    # bytes differ between runs.
    meta = {"source": "make_checkpoint_fixtures.py"}
    for name, dt in [("st_f32", torch.float32), ("st_f16", torch.float16), ("st_bf16", torch.bfloat16)]:
        sd = {k: v.to(dt).contiguous() for k, v in base.items()}
        save_file(sd, os.path.join(OUT, name + ".safetensors"), metadata=meta)
        expected["fixtures"][name + ".safetensors"] = {
            "metadata": meta, "tensors": {k: describe(v) for k, v in sd.items()}}

    dts = {
        "f64": torch.tensor([1.0 / 3.0, -2.5, 1e-300, 1e300], dtype=torch.float64),
        "i64": torch.tensor([-(2 ** 62), -1, 0, 2 ** 62 + 7], dtype=torch.int64),
        "i32": torch.tensor([-(2 ** 31), 5, 2 ** 31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, -2, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }
    save_file(dts, os.path.join(OUT, "st_dtypes.safetensors"))
    expected["fixtures"]["st_dtypes.safetensors"] = {"tensors": {k: describe(v) for k, v in dts.items()}}

    # Exhaustive fp16 / bf16 -> fp32 conversion digests (the Go test converts all 65536 patterns).
    pats = torch.arange(65536, dtype=torch.int32).to(torch.int16)
    expected["f16_all_patterns_f32_sha256"] = f32_sha(pats.view(torch.float16).float())
    expected["bf16_all_patterns_f32_sha256"] = f32_sha(pats.view(torch.bfloat16).float())

    # ---- torch.save zip ----------------------------------------------------------------------
    a = torch.randn(3, 4)
    big = torch.randn(4, 3, dtype=torch.float16)
    cube = torch.randn(2, 3, 4)
    sd = {
        "a": a,
        "a_t": a.t(),                      # non-contiguous view sharing a's storage
        "half": torch.randn(5, dtype=torch.float16),
        "bf16": torch.randn(2, 3).to(torch.bfloat16),
        "long": torch.tensor([3, -4, 2 ** 40]),
        "int32": torch.tensor([7, -7], dtype=torch.int32),
        "int8": torch.tensor([-5, 6], dtype=torch.int8),
        "uint8": torch.tensor([250, 1], dtype=torch.uint8),
        "bool": torch.tensor([False, True]),
        "f64": torch.tensor([0.1, -0.2], dtype=torch.float64),
        "scalar": torch.tensor(-1.5),
        "big_row1": big[1],                # storage offset 3, fp16
        "big_col1": big[:, 1],             # stride 3, fp16, same storage as big_row1
        "cube_perm": cube.permute(2, 0, 1),  # 3-D non-contiguous
        "param": torch.nn.Parameter(torch.randn(2, 2)),  # _rebuild_parameter
        "nested": {"inner": torch.arange(4, dtype=torch.float32)},
        "epoch": 7,                        # non-tensor values are skipped
        "note": "hello",
    }
    torch.save(sd, os.path.join(OUT, "torch_save.pt"))
    flat = {}
    for k, v in sd.items():
        if isinstance(v, dict):
            for k2, v2 in v.items():
                flat[k + "." + k2] = v2
        elif isinstance(v, torch.Tensor):
            flat[k] = v
    expected["fixtures"]["torch_save.pt"] = {"tensors": {k: describe(v) for k, v in flat.items()}}

    # Protocol 4 pickles use FRAME, SHORT_BINUNICODE, MEMOIZE and STACK_GLOBAL instead of GLOBAL.
    g = torch.Generator().manual_seed(4)  # own generator: leaves the other fixtures' draws alone
    p4 = {"w": torch.randn(2, 3, generator=g), "h": torch.randn(4, generator=g).half(), "i": torch.tensor([1, 2])}
    torch.save(p4, os.path.join(OUT, "torch_save_p4.pt"), pickle_protocol=4)
    expected["fixtures"]["torch_save_p4.pt"] = {"tensors": {k: describe(v) for k, v in p4.items()}}

    ck = {"epoch": 3, "state_dict": {"module.w": torch.randn(2, 2)}, "optimizer_name": "adamw"}
    torch.save(ck, os.path.join(OUT, "torch_save_checkpoint.pt"))
    expected["fixtures"]["torch_save_checkpoint.pt"] = {
        "tensors": {k: describe(v) for k, v in ck["state_dict"].items()}}

    torch.save(torch.nn.Linear(2, 2), os.path.join(OUT, "torch_module.pt"))
    torch.save({"w": torch.ones(2)}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    # ---- malicious archives (never loaded here) ------------------------------------------------
    def evil_zip(path, pkl):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
            for name, data in [("evil/data.pkl", pkl), ("evil/byteorder", b"little"), ("evil/version", b"3\n")]:
                z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)

    cmd = ("touch " + PWN_MARKER).encode()
    # GLOBAL 'os system', BINUNICODE cmd, TUPLE1, REDUCE, STOP
    os_system = b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd + b"\x85R."
    evil_zip(os.path.join(OUT, "evil_os_system.pt"), os_system)
    code = ("__import__('os').system('touch " + PWN_MARKER + "')").encode()
    # PROTO 2, GLOBAL 'builtins eval', BINUNICODE code, TUPLE1, REDUCE, STOP
    ev = b"\x80\x02cbuiltins\neval\nX" + struct.pack("<I", len(code)) + code + b"\x85R."
    evil_zip(os.path.join(OUT, "evil_eval.pt"), ev)

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + PWN_MARKER,))

    torch.save({"w": torch.ones(2), "payload": Evil()}, os.path.join(OUT, "evil_in_state_dict.pt"))
    expected["pwn_marker"] = PWN_MARKER

    # ---- TorchScript of a tiny nested module -----------------------------------------------------
    class Inner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)
            self.register_buffer("counts", torch.arange(4))
            self.k = 5
            self.note = torch.ones(2)  # a plain tensor attribute: not a parameter or buffer

        def forward(self, x):
            return self.lin(x) + self.note.sum()

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = Inner()
            self.blocks = torch.nn.ModuleList([torch.nn.LayerNorm(2), torch.nn.LayerNorm(2)])
            self.scale = torch.nn.Parameter(torch.tensor(2.5))
            self.hp = torch.nn.Parameter(torch.randn(2, 2).half())

        def forward(self, x):
            y = self.inner(x)
            for b in self.blocks:
                y = b(y)
            return y * self.scale + self.hp.float().sum()

    outer = Outer()
    with torch.no_grad():
        for p in outer.parameters():
            p.copy_(torch.randn_like(p))
    scripted = torch.jit.script(outer)
    sp = os.path.join(OUT, "script_nested.pt")
    scripted.save(sp)
    loaded = torch.jit.load(sp)
    expected["fixtures"]["script_nested.pt"] = {
        "tensors": {k: describe(v) for k, v in loaded.state_dict().items()}}

    # ---- tiny open_clip CLIP, its TorchScript trace, and the same weights as HF CLIPModel -------
    make_tiny_clip(expected)

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = 0
    for root, _, files in os.walk(OUT):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"wrote {OUT}: {total} bytes")


def make_tiny_clip(expected):
    import open_clip
    from open_clip.model import convert_weights_to_lp
    from transformers import CLIPConfig, CLIPModel

    W, E, VOCAB, CTX, IMG, PATCH, MLP = 64, 16, 64, 8, 8, 4, 16
    m = open_clip.model.CLIP(
        embed_dim=E,
        vision_cfg=dict(image_size=IMG, patch_size=PATCH, width=W, layers=1, head_width=64, mlp_ratio=MLP / W),
        text_cfg=dict(context_length=CTX, vocab_size=VOCAB, width=W, heads=W // 64, layers=1, mlp_ratio=MLP / W),
        quick_gelu=True,
    ).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            # Random values everywhere (LayerNorms too) so a swapped tensor cannot go unnoticed,
            # rounded to fp16-representable values so the fp16 copies below upcast exactly.
            p.copy_((torch.randn_like(p) * 0.2).half().float())
        m.logit_scale.fill_(float(np.log(100.0)))
    sd32 = {k: v.clone() for k, v in m.state_dict().items()}

    img = torch.randn(2, 3, IMG, IMG)
    txt = torch.randint(1, VOCAB - 1, (2, CTX))
    txt[0, 5] = VOCAB - 1  # EOT = largest id, as in CLIP
    txt[1, 7] = VOCAB - 1
    with torch.no_grad():
        oc_img = m.encode_image(img)
        oc_txt = m.encode_text(txt)

    # HF CLIPModel with the same weights, by the inverse of the mapping under test.
    cfg = CLIPConfig(
        text_config=dict(hidden_size=W, intermediate_size=MLP, num_attention_heads=W // 64, num_hidden_layers=1,
                         vocab_size=VOCAB, max_position_embeddings=CTX, hidden_act="quick_gelu",
                         layer_norm_eps=1e-5, eos_token_id=VOCAB - 1, bos_token_id=VOCAB - 2, pad_token_id=0),
        vision_config=dict(hidden_size=W, intermediate_size=MLP, num_attention_heads=W // 64, num_hidden_layers=1,
                           image_size=IMG, patch_size=PATCH, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        projection_dim=E,
    )
    hf = CLIPModel(cfg).eval()
    hsd = {}

    def block(src, dst):
        w = sd32[src + "attn.in_proj_weight"]
        b = sd32[src + "attn.in_proj_bias"]
        for i, c in enumerate("qkv"):
            hsd[dst + f"self_attn.{c}_proj.weight"] = w[i * W:(i + 1) * W]
            hsd[dst + f"self_attn.{c}_proj.bias"] = b[i * W:(i + 1) * W]
        for a, h in [("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                     ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")]:
            hsd[dst + h + ".weight"] = sd32[src + a + ".weight"]
            hsd[dst + h + ".bias"] = sd32[src + a + ".bias"]

    hsd["vision_model.embeddings.patch_embedding.weight"] = sd32["visual.conv1.weight"]
    hsd["vision_model.embeddings.class_embedding"] = sd32["visual.class_embedding"]
    hsd["vision_model.embeddings.position_embedding.weight"] = sd32["visual.positional_embedding"]
    for s in ["weight", "bias"]:
        hsd["vision_model.pre_layrnorm." + s] = sd32["visual.ln_pre." + s]
        hsd["vision_model.post_layernorm." + s] = sd32["visual.ln_post." + s]
        hsd["text_model.final_layer_norm." + s] = sd32["ln_final." + s]
    block("visual.transformer.resblocks.0.", "vision_model.encoder.layers.0.")
    block("transformer.resblocks.0.", "text_model.encoder.layers.0.")
    hsd["text_model.embeddings.token_embedding.weight"] = sd32["token_embedding.weight"]
    hsd["text_model.embeddings.position_embedding.weight"] = sd32["positional_embedding"]
    hsd["visual_projection.weight"] = sd32["visual.proj"].t()
    hsd["text_projection.weight"] = sd32["text_projection"].t()
    hsd["logit_scale"] = sd32["logit_scale"]
    missing, unexpected = hf.load_state_dict({k: v.contiguous() for k, v in hsd.items()}, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    assert not missing and not unexpected, (missing, unexpected)
    with torch.no_grad():
        hf_img = hf.get_image_features(pixel_values=img)
        hf_txt = hf.get_text_features(input_ids=txt)
    hf_img = getattr(hf_img, "pooler_output", hf_img)
    hf_txt = getattr(hf_txt, "pooler_output", hf_txt)
    di = (hf_img - oc_img).abs().max().item()
    dt = (hf_txt - oc_txt).abs().max().item()
    print(f"HF vs open_clip features: max |diff| image {di:.3g}, text {dt:.3g}")
    assert di < 1e-5 and dt < 1e-5, "inverse mapping does not reproduce open_clip features"
    hf_dir = os.path.join(OUT, "hf_tiny_clip")
    hf.save_pretrained(hf_dir, safe_serialization=True)

    # TorchScript archive like OpenAI's: traced methods, then OpenAI-style fp16 matrices.
    traced = torch.jit.trace_module(copy.deepcopy(m), {
        "forward": (img, txt), "encode_image": (img,), "encode_text": (txt,)})
    convert_weights_to_lp(m, torch.float16)
    sd_mixed = m.state_dict()
    with torch.no_grad():
        for name, p in traced.named_parameters():
            if sd_mixed[name].dtype == torch.float16:
                p.data = p.data.half()
    oc_dir = os.path.join(OUT, "openclip_tiny")
    os.makedirs(oc_dir, exist_ok=True)
    torch.save(sd_mixed, os.path.join(oc_dir, "open_clip_pytorch_model.bin"))
    tp = os.path.join(oc_dir, "traced.pt")
    torch.jit.save(traced, tp)
    jsd = torch.jit.load(tp).state_dict()
    for k, v in sd_mixed.items():
        assert jsd[k].dtype == v.dtype and torch.equal(jsd[k], v), k

    expected["tiny_clip"] = {
        # OpenAI-named reference: the fp32 open_clip state dict (equal to every fixture upcast).
        "openai": {k: describe(v, full=False) for k, v in sd32.items()},
        "bin_dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in sd_mixed.items()},
        "traced_state_dict": {k: describe(v, full=False) for k, v in jsd.items()},
        "hf_keys": sorted(hf.state_dict().keys()),
    }


if __name__ == "__main__":
    sys.exit(main())
