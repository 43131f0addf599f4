// Package weights knows every CLIP and MobileCLIP checkpoint clipkit supports and fetches them:
// one registry (registry.json, embedded), one Fetch that downloads what the caches lack, resumes
// interrupted transfers and verifies every file, and an offline mode that says what is missing.
//
// Usage:
//
//	loc, err := weights.Fetch(ctx, "ViT-B/32", weights.Options{})
//	// loc.WeightsPath is the verified weights file, loc.ConfigPath its config JSON (if any),
//	// loc.Entry.Format says how to read it, loc.Entry.Arch which architecture to build.
//
// From the command line: `clipx weights list`, `clipx weights fetch ViT-B/32`, `clipx weights verify`.
//
// # Names
//
//   - OpenAI originals (TorchScript, fetched from the OpenAI URLs, verified by the sha256 in the URL):
//     RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B/32, ViT-B/16, ViT-L/14, ViT-L/14@336px.
//   - The same weights as open_clip safetensors from the timm hub repos, named as open_clip names them:
//     RN50/openai, ..., ViT-B-32/openai, ..., ViT-L-14-336/openai.
//   - The same weights as HF transformers safetensors: ViT-B/32-hf, ViT-B/16-hf, ViT-L/14-hf,
//     ViT-L/14@336px-hf; the repo ids (openai/clip-vit-base-patch32, ...) are accepted as aliases.
//   - OpenCLIP models trained elsewhere, named model/tag: ViT-B-32/laion2b_s34b_b79k.
//   - MobileCLIP-S0, -S1, -S2, -B, -B-LT (Apple's original .pt files) and MobileCLIP2-S0, -S2, -B, -S3,
//     -S4, -L-14 (open_clip safetensors).
//
// # Where files go
//
// Hugging Face files go to the hub cache shared with Python's huggingface_hub and go-huggingface
// ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), in its layout
// (models--org--name/{refs,blobs,snapshots}); files fetched by URL go to $CLIPKIT_CACHE/weights
// (default ~/.cache/clipkit). HF_ENDPOINT and CLIPKIT_OPENAI_ENDPOINT point at mirrors; HF_TOKEN (or
// the huggingface-cli login token) authenticates. CLIPKIT_OFFLINE=1 or HF_HUB_OFFLINE=1 forbid any
// network access.
//
// # Verification
//
// The registry records a sha256 or size only where the source publishes one (the OpenAI URLs embed
// the file's sha256). Hugging Face files are verified against what the hub announces for them when
// they are fetched: the sha256 of LFS files (X-Linked-Etag), the git blob id of small files (ETag),
// and the size; the blob's file name keeps that ETag, so Verify can re-check it offline. A cached
// file that no longer matches is never returned: Fetch downloads it again (offline, it reports it).
package weights
