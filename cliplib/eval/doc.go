// Package eval is clipkit's standard evaluation suite, the measurements open_clip users run with
// clip_benchmark: zero-shot classification with the CLIP paper's class names and prompt templates
// (top-1, top-5, mean per-class recall), zero-shot image↔text retrieval (recall@1/5/10), and
// linear probes on frozen features (L2-regularised logistic regression, the regulariser chosen
// on a validation split). Image embeddings stream out of a pipeline that decodes and preprocesses
// in parallel with encoding, and are cached on disk so that a second metric on the same data costs
// nothing. The published numbers to compare against (metadata/published.csv) and the paper's
// prompts (metadata/prompts.json) are copied from their sources by tools/eval/make_metadata.py.
package eval
