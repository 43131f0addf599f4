#!/usr/bin/env python3
"""Writes cliplib/eval/metadata/{prompts.json,published.csv} from the published sources.

Sources (pass the checkouts' paths; the commits used are recorded in the outputs):
  --clip      a checkout of github.com/openai/CLIP        (data/prompts.md, notebooks/Prompt_Engineering_for_ImageNet.ipynb)
  --openclip  a checkout of github.com/mlfoundations/open_clip (docs/openclip_results.csv, docs/openclip_retrieval_results.csv)
  --mobileclip a checkout of github.com/apple/ml-mobileclip (README.md, the zero-shot ImageNet table)

Git directories work too (bare mirrors): files are read with `git show HEAD:path`.
Classification numbers are stored under the metric "main": the benchmark's main metric (top-1, or
mean per-class recall where the paper uses it); open_clip's file does not say which it reports.
Only numbers copied from these files are written; nothing is typed in by hand.
"""
import argparse, ast, csv, io, json, os, re, subprocess, sys

def read(repo, path):
    if os.path.exists(os.path.join(repo, path)):
        return open(os.path.join(repo, path), encoding="utf-8").read()
    return subprocess.run(["git", "-C", repo, "show", "HEAD:" + path], check=True, capture_output=True, text=True).stdout

def commit(repo):
    return subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()

def prompts_md(text):
    """Returns {section: (classes, templates)} from OpenAI's data/prompts.md (python lists in code blocks)."""
    out = {}
    for m in re.finditer(r"^## (\S+)\n\n```bash\n(.*?)```", text, re.S | re.M):
        env = {}
        for name in ("classes", "templates"):
            mm = re.search(name + r" = (\[.*?\n\])", m.group(2), re.S)
            if mm:
                env[name] = ast.literal_eval(mm.group(1))
        if "classes" in env and "templates" in env:
            out[m.group(1)] = (env["classes"], env["templates"])
    return out

def imagenet(nb_text):
    nb = json.loads(nb_text)
    found = {}
    for c in nb["cells"]:
        s = "".join(c["source"])
        for name in ("imagenet_classes", "imagenet_templates"):
            m = re.search(name + r" = (\[.*?\])\s*$", s, re.S | re.M)
            if m and name not in found:
                found[name] = ast.literal_eval(m.group(1))
    return found["imagenet_classes"], found["imagenet_templates"]

# Our benchmark name -> section of prompts.md.
PAPER = {"cifar10": "CIFAR10", "cifar100": "CIFAR100", "stl10": "STL10", "mnist": "MNIST",
         "food101": "Food101", "pets": "OxfordPets"}

# Registered model -> open_clip (name, pretrained) row.
OPENCLIP_MODELS = {"ViT-B/32": "ViT-B-32", "ViT-B/16": "ViT-B-16", "ViT-L/14": "ViT-L-14",
                   "ViT-L/14@336px": "ViT-L-14-336", "RN50": "RN50", "RN101": "RN101",
                   "RN50x4": "RN50x4", "RN50x16": "RN50x16", "RN50x64": "RN50x64"}
# Our benchmark name -> open_clip classification column.
OPENCLIP_CLS = {"imagenet1k": "ImageNet 1k", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "stl10": "STL-10",
                "mnist": "MNIST", "food101": "Food-101", "pets": "Oxford-IIIT Pet"}
# open_clip retrieval columns: "image retr." finds images for a caption (text->image),
# "text retr." finds captions for an image (image->text).
OPENCLIP_RET = {"flickr30k": "Flickr", "mscoco5k": "MSCOCO"}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", required=True)
    ap.add_argument("--openclip", required=True)
    ap.add_argument("--mobileclip", required=True)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "cliplib", "eval", "metadata"))
    a = ap.parse_args()
    clip_c, oc_c, mc_c = commit(a.clip), commit(a.openclip), commit(a.mobileclip)

    sections = prompts_md(read(a.clip, "data/prompts.md"))
    prompts = {}
    for name, sec in PAPER.items():
        classes, templates = sections[sec]
        prompts[name] = {"classes": classes, "templates": templates,
                         "source": f"github.com/openai/CLIP@{clip_c} data/prompts.md ## {sec}"}
    classes, templates = imagenet(read(a.clip, "notebooks/Prompt_Engineering_for_ImageNet.ipynb"))
    assert len(classes) == 1000 and len(templates) == 80, (len(classes), len(templates))
    prompts["imagenet1k"] = {"classes": classes, "templates": templates,
                             "source": f"github.com/openai/CLIP@{clip_c} notebooks/Prompt_Engineering_for_ImageNet.ipynb"}
    with open(os.path.join(a.out, "prompts.json"), "w", encoding="utf-8") as f:
        json.dump(prompts, f, indent=1, ensure_ascii=False)
        f.write("\n")

    rows = []
    src = f"github.com/mlfoundations/open_clip@{oc_c} docs/openclip_results.csv"
    for r in csv.DictReader(io.StringIO(read(a.openclip, "docs/openclip_results.csv"))):
        for ours, oc in OPENCLIP_MODELS.items():
            if r["name"] == oc and r["pretrained"] == "openai":
                for ds, col in OPENCLIP_CLS.items():
                    if r.get(col):
                        rows.append((ours, ds, "main", float(r[col]), src + f" row {oc},openai column {col!r}"))
    src = f"github.com/mlfoundations/open_clip@{oc_c} docs/openclip_retrieval_results.csv"
    for r in csv.DictReader(io.StringIO(read(a.openclip, "docs/openclip_retrieval_results.csv"))):
        for ours, oc in OPENCLIP_MODELS.items():
            if r["name"] == oc and r["pretrained"] == "openai":
                for ds, col in OPENCLIP_RET.items():
                    for k in (1, 5, 10):
                        for metric, kind in (("t2i", "image retr."), ("i2t", "text retr.")):
                            c = f"{col} {kind} R@{k}"
                            rows.append((ours, ds, f"{metric}_r@{k}", float(r[c]), src + f" row {oc},openai column {c!r}"))
    readme = read(a.mobileclip, "README.md")
    src = f"github.com/apple/ml-mobileclip@{mc_c} README.md (table: IN-1k Zero-Shot Top-1 Acc. (%))"
    for m in re.finditer(r"^\| \[(MobileCLIP2?-[A-Z0-9/]+(?: \(LT\))?)\]\([^)]*\)\s*\|([^\n]*)$", readme, re.M):
        cells = [c.strip() for c in m.group(2).split("|")]
        name = m.group(1).replace(" (LT)", "-LT")
        rows.append((name, "imagenet1k", "main", round(float(cells[3]) / 100, 4), src + f" row {m.group(1)!r}"))
    with open(os.path.join(a.out, "published.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["model", "dataset", "metric", "value", "source"])
        for row in rows:
            w.writerow(row)
    print(f"prompts.json: {len(prompts)} datasets; published.csv: {len(rows)} numbers", file=sys.stderr)

if __name__ == "__main__":
    main()
