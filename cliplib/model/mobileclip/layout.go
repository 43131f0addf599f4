package mobileclip

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model/family"
)

// MobileCLIP's internal naming is the OpenCLIP / timm hub layout (open_clip's CustomTextCLIP):
// "visual.trunk.*" (timm's fastvit / vit_base_mci_224 names), "text.*" (open_clip's text
// transformer names) and "logit_scale". Apple's original .pt files (image_encoder.*,
// text_encoder.*) are renamed onto it by ToOpenCLIP, following timm's
// fastvit.checkpoint_filter_fn and vision_transformer_hybrid._convert_mobileclip and open_clip's
// convert_mobile_clip_state_dict (open_clip src/open_clip/convert.py). The S0 "mct" text tower has no open_clip
// counterpart; its RepMixer blocks keep Apple's block index and get timm's RepMixerBlock names.

// The checkpoint layouts of MobileCLIP files, registered with package checkpoint through the
// family's Layouts (family.Register calls checkpoint.RegisterLayout): they are detected before
// the generic OpenAI layout, whose "visual." prefix the OpenCLIP one shares.
const (
	// LayoutApple: Apple's original MobileCLIP .pt (image_encoder.*, text_encoder.*).
	LayoutApple checkpoint.Layout = "apple-mobileclip"
	// LayoutOpenCLIP: open_clip's CustomTextCLIP, the MobileCLIP hub files (visual.trunk.*, text.*).
	LayoutOpenCLIP checkpoint.Layout = "open_clip-custom-text"
)

// layouts are the family's layouts and their detectors, in detection order.
var layouts = []family.Layout{
	{Name: LayoutApple, Detect: checkpoint.AnyPrefix("image_encoder.", "text_encoder.")},
	{Name: LayoutOpenCLIP, Detect: checkpoint.AnyPrefix("visual.trunk.", "text.")},
}

// ToOpenCLIP maps a MobileCLIP state dict, in Apple's original layout or already in
// the OpenCLIP layout, to the internal naming, and reports the layout it came in. It strips a
// leading "module.", drops BatchNorm counters (num_batches_tracked) and makes logit_scale a
// scalar. Apple-layout keys are renamed:
//
//   - image (MCi): patch_embed→stem, rbr_conv→conv_kxk, rbr_scale→conv_scale, rbr_skip→identity,
//     lkb_origin→large_conv (lkb_reparam→reparam_conv for folded files), convffn→mlp,
//     conv_exp→final_conv, se.reduce/expand→se.fc1/fc2, layer_scale*→layer_scale*.gamma; the flat
//     network.{k} list becomes stages.{s} (s = number of downsampling entries network.{k'}.proj
//     with k' ≤ k), with network.{k}.proj→stages.{s}.downsample.proj, network.{k}.pe→
//     stages.{s}.pos_emb.pos_enc and the blocks network.{k}.{j}→stages.{s}.blocks.{j};
//     head.proj [C, E] becomes head.fc.weight [E, C] plus a zero head.fc.bias.
//   - image (ViT-B): patch_emb.{i}.block.{conv,norm}→patch_embed.backbone.{i}.{conv,bn},
//     transformer.{i}→blocks.{i} with pre_norm_mha.0→norm1, pre_norm_mha.1.{qkv_proj,out_proj}→
//     attn.{qkv,proj}, pre_norm_ffn.{0,1,4}→norm2, mlp.fc1, mlp.fc2; post_transformer_norm→norm;
//     pos_embed.pos_embed.pos_embed [1,1,N,W]→pos_embed [1,N,W]; classifier.proj [W, E]→
//     head.weight [E, W] plus a zero head.bias.
//   - text: embedding_layer→token_embedding, positional_embedding.pos_embed.pos_embed
//     [1,1,L,W]→positional_embedding [L,W], transformer.{i}→transformer.resblocks.{i} with
//     pre_norm_mha.0→ln_1, pre_norm_mha.1.qkv_proj→attn.in_proj_{weight,bias} (same q,k,v row
//     order), out_proj unchanged, pre_norm_ffn.{0,1,4}→ln_2, mlp.c_fc, mlp.c_proj;
//     final_layer_norm→ln_final, projection_layer→text_projection; inside the "mct" RepMixer
//     blocks the image renames apply (rbr_*, convffn, layer_scale).
//
// A key the mapping cannot place is an error naming it. Tensors are shared with sd (except the
// transposed projections and the squeezed embeddings, which are reshaped views of the same data);
// sd is not modified.
func ToOpenCLIP(sd checkpoint.StateDict) (checkpoint.StateDict, checkpoint.Layout, error) {
	sd, err := checkpoint.StripModulePrefix(sd)
	if err != nil {
		return nil, "", err
	}
	keys := checkpoint.SortedKeys(sd)
	layout, err := checkpoint.DetectKeys(keys)
	if err != nil {
		return nil, "", err
	}
	var out checkpoint.StateDict
	switch layout {
	case LayoutOpenCLIP:
		out = make(checkpoint.StateDict, len(sd))
		for k, t := range sd {
			if !strings.HasSuffix(k, ".num_batches_tracked") {
				out[k] = t
			}
		}
	case LayoutApple:
		if out, err = appleToOpenCLIP(sd, keys); err != nil {
			return nil, layout, fmt.Errorf("%s layout: %w", layout, err)
		}
	default:
		return nil, layout, fmt.Errorf("checkpoint layout %s (keys such as %s) is not a MobileCLIP layout (want Apple's image_encoder.*/text_encoder.* or OpenCLIP's visual.trunk.*/text.*)",
			layout, checkpoint.SampleKeys(keys, 3))
	}
	if _, ok := out["logit_scale"]; ok {
		if err := checkpoint.ScalarLogitScale(out); err != nil {
			return nil, layout, err
		}
	}
	return out, layout, nil
}

var (
	appleNetworkRe  = regexp.MustCompile(`^network\.(\d+)\.(.*)$`)
	appleLayerScale = regexp.MustCompile(`layer_scale_([0-9])$`)
)

// appleToOpenCLIP renames an Apple-layout state dict (keys sorted in keys).
func appleToOpenCLIP(sd checkpoint.StateDict, keys []string) (checkpoint.StateDict, error) {
	const imgPrefix, txtPrefix = "image_encoder.model.", "text_encoder."
	isViT := false
	var stageEnds []int
	for _, k := range keys {
		if strings.HasPrefix(k, imgPrefix+"patch_emb.") {
			isViT = true
		}
		if m := appleNetworkRe.FindStringSubmatch(strings.TrimPrefix(k, imgPrefix)); m != nil && strings.HasPrefix(m[2], "proj.") {
			n, _ := strconv.Atoi(m[1])
			stageEnds = append(stageEnds, n)
		}
	}
	slices.Sort(stageEnds)
	stageEnds = slices.Compact(stageEnds)

	out := make(checkpoint.StateDict, len(sd))
	put := func(name string, t *checkpoint.Tensor) error {
		if _, dup := out[name]; dup {
			return fmt.Errorf("two tensors map to %q", name)
		}
		out[name] = t
		return nil
	}
	var unknown []string
	for _, k := range keys {
		t := sd[k]
		if strings.HasSuffix(k, ".num_batches_tracked") {
			continue
		}
		var err error
		switch {
		case k == "logit_scale":
			err = put(k, t)
		case strings.HasPrefix(k, imgPrefix):
			rest := strings.TrimPrefix(k, imgPrefix)
			if isViT {
				err = appleViTKey(rest, t, put)
			} else {
				err = appleMCiKey(rest, t, stageEnds, put)
			}
		case strings.HasPrefix(k, txtPrefix):
			err = appleTextKey(strings.TrimPrefix(k, txtPrefix), t, put)
		default:
			unknown = append(unknown, k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%d keys outside image_encoder.model.*, text_encoder.* and logit_scale: %s", len(unknown), checkpoint.SampleKeys(unknown, 5))
	}
	return out, nil
}

// repBranchRenames are the MobileOne / RepMixer / ConvFFN renames shared by the image and the
// mct text towers (timm's names on the right).
var repBranchRenames = strings.NewReplacer(
	"rbr_conv", "conv_kxk",
	"rbr_scale", "conv_scale",
	"rbr_skip", "identity",
	"rbr_reparam", "reparam_conv",
	"lkb_origin", "large_conv",
	"lkb_reparam", "reparam_conv",
	"convffn", "mlp",
	"se.reduce", "se.fc1",
	"se.expand", "se.fc2",
)

// layerScaleGamma appends ".gamma" to layer-scale parameters (nn.Parameter in Apple's code,
// LayerScale2d modules in timm's).
func layerScaleGamma(k string) string {
	if appleLayerScale.MatchString(k) || strings.HasSuffix(k, "layer_scale") {
		return k + ".gamma"
	}
	return k
}

func appleMCiKey(k string, t *checkpoint.Tensor, stageEnds []int, put func(string, *checkpoint.Tensor) error) error {
	const p = "visual.trunk."
	if k == "head.proj" {
		w, err := checkpoint.Transpose2D(t)
		if err != nil {
			return err
		}
		bias := &checkpoint.Tensor{Shape: []int{w.Shape[0]}, DType: checkpoint.F32, Data: make([]float32, w.Shape[0])}
		if err := put(p+"head.fc.weight", w); err != nil {
			return err
		}
		return put(p+"head.fc.bias", bias)
	}
	k = layerScaleGamma(repBranchRenames.Replace(k))
	switch {
	case strings.HasPrefix(k, "patch_embed."):
		k = "stem." + strings.TrimPrefix(k, "patch_embed.")
	case strings.HasPrefix(k, "conv_exp."):
		k = "final_conv." + strings.TrimPrefix(k, "conv_exp.")
	case strings.HasPrefix(k, "network."):
		m := appleNetworkRe.FindStringSubmatch(k)
		if m == nil {
			return fmt.Errorf("unexpected network entry")
		}
		n, _ := strconv.Atoi(m[1])
		stage := 0 // bisect_right(stageEnds, n)
		for stage < len(stageEnds) && stageEnds[stage] <= n {
			stage++
		}
		sp := fmt.Sprintf("stages.%d.", stage)
		switch rest := m[2]; {
		case strings.HasPrefix(rest, "proj."):
			k = sp + "downsample." + rest
		case strings.HasPrefix(rest, "pe."):
			k = sp + "pos_emb.pos_enc." + strings.TrimPrefix(rest, "pe.")
		case strings.HasPrefix(rest, "reparam_conv."): // a folded RepCPE
			k = sp + "pos_emb." + rest
		default:
			k = sp + "blocks." + rest
		}
	default:
		return fmt.Errorf("unexpected MCi image key")
	}
	return put(p+k, t)
}

var appleViTRenames = strings.NewReplacer(
	"block.conv", "conv",
	"block.norm", "bn",
	"pre_norm_mha.0", "norm1",
	"pre_norm_mha.1", "attn",
	"pre_norm_ffn.0", "norm2",
	"pre_norm_ffn.1", "mlp.fc1",
	"pre_norm_ffn.4", "mlp.fc2",
	"qkv_proj.", "qkv.",
	"out_proj.", "proj.",
)

func appleViTKey(k string, t *checkpoint.Tensor, put func(string, *checkpoint.Tensor) error) error {
	const p = "visual.trunk."
	switch {
	case k == "cls_token":
		return put(p+k, t)
	case k == "pos_embed.pos_embed.pos_embed":
		s, err := squeezeLeading(t, 2)
		if err != nil {
			return err
		}
		return put(p+"pos_embed", &checkpoint.Tensor{Shape: append([]int{1}, s.Shape...), DType: s.DType, Data: s.Data})
	case k == "classifier.proj":
		w, err := checkpoint.Transpose2D(t)
		if err != nil {
			return err
		}
		if err := put(p+"head.weight", w); err != nil {
			return err
		}
		return put(p+"head.bias", &checkpoint.Tensor{Shape: []int{w.Shape[0]}, DType: checkpoint.F32, Data: make([]float32, w.Shape[0])})
	case strings.HasPrefix(k, "post_transformer_norm."):
		return put(p+"norm."+strings.TrimPrefix(k, "post_transformer_norm."), t)
	case strings.HasPrefix(k, "patch_emb."):
		return put(p+"patch_embed.backbone."+appleViTRenames.Replace(strings.TrimPrefix(k, "patch_emb.")), t)
	case strings.HasPrefix(k, "transformer."):
		return put(p+"blocks."+appleViTRenames.Replace(strings.TrimPrefix(k, "transformer.")), t)
	}
	return fmt.Errorf("unexpected ViT image key")
}

var appleTextRenames = strings.NewReplacer(
	"pre_norm_mha.0", "ln_1",
	"pre_norm_mha.1.qkv_proj.weight", "attn.in_proj_weight",
	"pre_norm_mha.1.qkv_proj.bias", "attn.in_proj_bias",
	"pre_norm_mha.1", "attn",
	"pre_norm_ffn.0", "ln_2",
	"pre_norm_ffn.1", "mlp.c_fc",
	"pre_norm_ffn.4", "mlp.c_proj",
)

func appleTextKey(k string, t *checkpoint.Tensor, put func(string, *checkpoint.Tensor) error) error {
	const p = "text."
	switch {
	case k == "embedding_layer.weight":
		return put(p+"token_embedding.weight", t)
	case k == "positional_embedding.pos_embed.pos_embed":
		s, err := squeezeLeading(t, 2)
		if err != nil {
			return err
		}
		return put(p+"positional_embedding", s)
	case k == "projection_layer":
		return put(p+"text_projection", t)
	case strings.HasPrefix(k, "final_layer_norm."):
		return put(p+"ln_final."+strings.TrimPrefix(k, "final_layer_norm."), t)
	case strings.HasPrefix(k, "transformer."):
		rest := strings.TrimPrefix(k, "transformer.")
		if strings.Contains(rest, ".pre_norm_") {
			rest = appleTextRenames.Replace(rest)
		} else { // an mct RepMixer block
			rest = layerScaleGamma(repBranchRenames.Replace(rest))
		}
		return put(p+"transformer.resblocks."+rest, t)
	}
	return fmt.Errorf("unexpected text key")
}

// squeezeLeading drops n leading axes of size 1 from a floating tensor (sharing its data).
func squeezeLeading(t *checkpoint.Tensor, n int) (*checkpoint.Tensor, error) {
	if len(t.Shape) != n+2 {
		return nil, fmt.Errorf("want a tensor of shape [%s N, W], got %s", strings.Repeat("1, ", n), t)
	}
	for _, d := range t.Shape[:n] {
		if d != 1 {
			return nil, fmt.Errorf("want a tensor of shape [%s N, W], got %s", strings.Repeat("1, ", n), t)
		}
	}
	return &checkpoint.Tensor{Shape: slices.Clone(t.Shape[n:]), DType: t.DType, Data: t.Data}, nil
}
