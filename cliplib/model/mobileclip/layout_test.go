package mobileclip

import (
	"slices"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
)

func vec(n int) *checkpoint.Tensor {
	t := &checkpoint.Tensor{Shape: []int{n}, DType: checkpoint.F32, Data: make([]float32, n)}
	for i := range t.Data {
		t.Data[i] = float32(i + 1)
	}
	return t
}

func tensorOf(shape ...int) *checkpoint.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	t := vec(n)
	t.Shape = shape
	return t
}

// TestToOpenCLIPRenamesApple checks the Apple → OpenCLIP renames on the key forms of
// the original files, including the flat network list split into stages as timm does (mci0:
// network 0 → stage 0 blocks, 1 → stage 1 downsample, 2 → stage 1 blocks, 3 → stage 2
// downsample, 4 → stage 2 blocks, 5 → stage 3 downsample, 6 → stage 3 pos_emb, 7 → stage 3
// blocks).
func TestToOpenCLIPRenamesApple(t *testing.T) {
	in := checkpoint.StateDict{}
	want := map[string]string{}
	add := func(apple, internal string) {
		in[apple] = vec(2)
		if internal != "" {
			want[internal] = apple
		}
	}
	const img, vis = "image_encoder.model.", "visual.trunk."
	add(img+"patch_embed.0.rbr_conv.0.conv.weight", vis+"stem.0.conv_kxk.0.conv.weight")
	add(img+"patch_embed.1.rbr_scale.bn.running_var", vis+"stem.1.conv_scale.bn.running_var")
	add(img+"patch_embed.2.rbr_skip.weight", vis+"stem.2.identity.weight")
	add(img+"patch_embed.2.rbr_skip.num_batches_tracked", "")
	add(img+"network.0.1.token_mixer.mixer.rbr_conv.0.bn.bias", vis+"stages.0.blocks.1.token_mixer.mixer.conv_kxk.0.bn.bias")
	add(img+"network.0.1.token_mixer.norm.rbr_skip.running_mean", vis+"stages.0.blocks.1.token_mixer.norm.identity.running_mean")
	add(img+"network.0.1.token_mixer.layer_scale", vis+"stages.0.blocks.1.token_mixer.layer_scale.gamma")
	add(img+"network.0.1.layer_scale", vis+"stages.0.blocks.1.layer_scale.gamma")
	add(img+"network.0.1.convffn.conv.conv.weight", vis+"stages.0.blocks.1.mlp.conv.conv.weight")
	add(img+"network.1.proj.0.lkb_origin.conv.weight", vis+"stages.1.downsample.proj.0.large_conv.conv.weight")
	add(img+"network.1.proj.0.small_conv.bn.weight", vis+"stages.1.downsample.proj.0.small_conv.bn.weight")
	add(img+"network.1.proj.1.rbr_conv.0.conv.weight", vis+"stages.1.downsample.proj.1.conv_kxk.0.conv.weight")
	add(img+"network.2.5.convffn.fc2.bias", vis+"stages.1.blocks.5.mlp.fc2.bias")
	add(img+"network.3.proj.0.se.fc1.weight", vis+"stages.2.downsample.proj.0.se.fc1.weight")
	add(img+"network.4.9.convffn.fc1.weight", vis+"stages.2.blocks.9.mlp.fc1.weight")
	add(img+"network.5.proj.0.lkb_origin.bn.running_mean", vis+"stages.3.downsample.proj.0.large_conv.bn.running_mean")
	add(img+"network.6.pe.weight", vis+"stages.3.pos_emb.pos_enc.weight")
	add(img+"network.6.pe.bias", vis+"stages.3.pos_emb.pos_enc.bias")
	add(img+"network.7.1.norm.running_var", vis+"stages.3.blocks.1.norm.running_var")
	add(img+"network.7.1.token_mixer.qkv.weight", vis+"stages.3.blocks.1.token_mixer.qkv.weight")
	add(img+"network.7.1.layer_scale_1", vis+"stages.3.blocks.1.layer_scale_1.gamma")
	add(img+"network.7.1.layer_scale_2", vis+"stages.3.blocks.1.layer_scale_2.gamma")
	add(img+"conv_exp.rbr_scale.conv.weight", vis+"final_conv.conv_scale.conv.weight")
	add(img+"conv_exp.se.reduce.weight", vis+"final_conv.se.fc1.weight")
	add(img+"conv_exp.se.expand.bias", vis+"final_conv.se.fc2.bias")
	const txt = "text_encoder."
	add(txt+"embedding_layer.weight", "text.token_embedding.weight")
	add(txt+"final_layer_norm.bias", "text.ln_final.bias")
	add(txt+"projection_layer", "text.text_projection")
	add(txt+"transformer.0.token_mixer.mixer.rbr_skip.weight", "text.transformer.resblocks.0.token_mixer.mixer.identity.weight")
	add(txt+"transformer.0.convffn.conv.bn.running_var", "text.transformer.resblocks.0.mlp.conv.bn.running_var")
	add(txt+"transformer.5.layer_scale", "text.transformer.resblocks.5.layer_scale.gamma")
	add(txt+"transformer.1.pre_norm_mha.0.weight", "text.transformer.resblocks.1.ln_1.weight")
	add(txt+"transformer.1.pre_norm_mha.1.qkv_proj.weight", "text.transformer.resblocks.1.attn.in_proj_weight")
	add(txt+"transformer.1.pre_norm_mha.1.qkv_proj.bias", "text.transformer.resblocks.1.attn.in_proj_bias")
	add(txt+"transformer.1.pre_norm_mha.1.out_proj.weight", "text.transformer.resblocks.1.attn.out_proj.weight")
	add(txt+"transformer.1.pre_norm_ffn.0.bias", "text.transformer.resblocks.1.ln_2.bias")
	add(txt+"transformer.1.pre_norm_ffn.1.weight", "text.transformer.resblocks.1.mlp.c_fc.weight")
	add(txt+"transformer.1.pre_norm_ffn.4.bias", "text.transformer.resblocks.1.mlp.c_proj.bias")
	in[img+"head.proj"] = tensorOf(3, 2)
	in[txt+"positional_embedding.pos_embed.pos_embed"] = tensorOf(1, 1, 4, 2)
	in["logit_scale"] = tensorOf(1)

	out, layout, err := ToOpenCLIP(in)
	if err != nil {
		t.Fatal(err)
	}
	if layout != LayoutApple {
		t.Errorf("layout %q, want %q", layout, LayoutApple)
	}
	for name, src := range want {
		if got, ok := out[name]; !ok {
			t.Errorf("%s: want %s in the output", src, name)
		} else if got != in[src] {
			t.Errorf("%s: the output does not hold the input tensor", name)
		}
	}
	head, bias := out[vis+"head.fc.weight"], out[vis+"head.fc.bias"]
	if head == nil || !slices.Equal(head.Shape, []int{2, 3}) || !slices.Equal(head.Data, []float32{1, 3, 5, 2, 4, 6}) {
		t.Errorf("head.proj [3,2] must become head.fc.weight [2,3] (transposed), got %v", head)
	}
	if bias == nil || !slices.Equal(bias.Data, []float32{0, 0}) {
		t.Errorf("head.fc.bias must be zeros of length 2, got %v", bias)
	}
	if p := out["text.positional_embedding"]; p == nil || !slices.Equal(p.Shape, []int{4, 2}) {
		t.Errorf("positional embedding [1,1,4,2] must become [4,2], got %v", p)
	}
	if ls := out["logit_scale"]; ls == nil || len(ls.Shape) != 0 {
		t.Errorf("logit_scale must be a scalar, got %v", ls)
	}
	if n := len(want) + 4; len(out) != n { // + head weight and bias, positional embedding, logit_scale
		extra := []string{}
		for k := range out {
			if _, ok := want[k]; !ok {
				extra = append(extra, k)
			}
		}
		t.Errorf("output has %d tensors, want %d (counters dropped); others: %v", len(out), n, extra)
	}
}

// TestToOpenCLIPRenamesAppleViT checks the MobileCLIP-B image renames.
func TestToOpenCLIPRenamesAppleViT(t *testing.T) {
	const img, vis = "image_encoder.model.", "visual.trunk."
	in := checkpoint.StateDict{
		img + "patch_emb.0.block.conv.weight":                vec(2),
		img + "patch_emb.1.block.norm.running_mean":          vec(2),
		img + "patch_emb.2.block.conv.bias":                  vec(2),
		img + "cls_token":                                    tensorOf(1, 1, 2),
		img + "pos_embed.pos_embed.pos_embed":                tensorOf(1, 1, 4, 2),
		img + "transformer.3.pre_norm_mha.0.weight":          vec(2),
		img + "transformer.3.pre_norm_mha.1.qkv_proj.bias":   vec(6),
		img + "transformer.3.pre_norm_mha.1.out_proj.weight": vec(4),
		img + "transformer.3.pre_norm_ffn.0.bias":            vec(2),
		img + "transformer.3.pre_norm_ffn.1.weight":          vec(8),
		img + "transformer.3.pre_norm_ffn.4.bias":            vec(2),
		img + "post_transformer_norm.weight":                 vec(2),
		img + "classifier.proj":                              tensorOf(2, 3),
	}
	out, _, err := ToOpenCLIP(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"patch_embed.backbone.0.conv.weight", "patch_embed.backbone.1.bn.running_mean",
		"patch_embed.backbone.2.conv.bias", "cls_token", "blocks.3.norm1.weight", "blocks.3.attn.qkv.bias",
		"blocks.3.attn.proj.weight", "blocks.3.norm2.bias", "blocks.3.mlp.fc1.weight", "blocks.3.mlp.fc2.bias",
		"norm.weight", "head.weight", "head.bias"} {
		if _, ok := out[vis+name]; !ok {
			t.Errorf("missing %s", vis+name)
		}
	}
	if p := out[vis+"pos_embed"]; p == nil || !slices.Equal(p.Shape, []int{1, 4, 2}) {
		t.Errorf("pos_embed [1,1,4,2] must become [1,4,2], got %v", p)
	}
	if h := out[vis+"head.weight"]; h == nil || !slices.Equal(h.Shape, []int{3, 2}) {
		t.Errorf("classifier.proj [2,3] must become head.weight [3,2], got %v", h)
	}
	if len(out) != len(in)+1 {
		t.Errorf("got %d tensors, want %d", len(out), len(in)+1)
	}
}

func TestToOpenCLIPPassesOpenCLIPLayout(t *testing.T) {
	in := checkpoint.StateDict{
		"module.visual.trunk.stem.0.conv_kxk.0.bn.weight":              vec(2),
		"module.visual.trunk.stem.0.conv_kxk.0.bn.num_batches_tracked": {Shape: []int{}, DType: checkpoint.I64, Ints: []int64{3}},
		"module.text.token_embedding.weight":                           tensorOf(3, 2),
		"module.logit_scale":                                           tensorOf(1),
	}
	out, layout, err := ToOpenCLIP(in)
	if err != nil {
		t.Fatal(err)
	}
	if layout != LayoutOpenCLIP {
		t.Errorf("layout %q, want %q", layout, LayoutOpenCLIP)
	}
	keys := checkpoint.SortedKeys(out)
	if want := []string{"logit_scale", "text.token_embedding.weight", "visual.trunk.stem.0.conv_kxk.0.bn.weight"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

func TestToOpenCLIPRejects(t *testing.T) {
	cases := []struct {
		name string
		sd   checkpoint.StateDict
		want string
	}{
		{"unknown Apple key", checkpoint.StateDict{"image_encoder.model.patch_embed.0.rbr_conv.0.conv.weight": vec(2), "optimizer.step": vec(1)}, "optimizer.step"},
		{"unknown image part", checkpoint.StateDict{"image_encoder.model.mystery.weight": vec(2)}, "image_encoder.model.mystery.weight"},
		{"OpenAI CLIP", checkpoint.StateDict{"visual.proj": vec(2), "token_embedding.weight": vec(2)}, "not a MobileCLIP layout"},
		{"bad positional embedding", checkpoint.StateDict{"text_encoder.positional_embedding.pos_embed.pos_embed": tensorOf(2, 1, 4, 2)}, "positional_embedding"},
		{"bad logit scale", checkpoint.StateDict{"text.token_embedding.weight": vec(2), "logit_scale": vec(2)}, "logit_scale"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ToOpenCLIP(c.sd)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error mentioning %q, got %v", c.want, err)
			}
		})
	}
}

// TestLayoutsAreDetectedAndRefusedByToOpenAI checks that the family's layouts are registered
// with package checkpoint ahead of the OpenAI layout (whose "visual." prefix the OpenCLIP layout
// shares) and that checkpoint.ToOpenAI names them instead of mapping them.
func TestLayoutsAreDetectedAndRefusedByToOpenAI(t *testing.T) {
	one := func() *checkpoint.Tensor {
		return &checkpoint.Tensor{Shape: []int{1}, DType: checkpoint.F32, Data: []float32{1}}
	}
	for _, c := range []struct {
		name   string
		sd     checkpoint.StateDict
		layout checkpoint.Layout
		want   []string
	}{
		{"open_clip MobileCLIP", checkpoint.StateDict{"visual.trunk.stem.0.weight": one(), "text.token_embedding.weight": one()}, LayoutOpenCLIP,
			[]string{string(LayoutOpenCLIP), "text.token_embedding.weight"}},
		{"Apple MobileCLIP", checkpoint.StateDict{"image_encoder.model.conv_exp.weight": one(), "text_encoder.embedding_layer.weight": one()}, LayoutApple,
			[]string{string(LayoutApple), "image_encoder.model.conv_exp.weight"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, err := checkpoint.DetectLayout(c.sd); err != nil || got != c.layout {
				t.Errorf("DetectLayout = %q, %v; want %q", got, err, c.layout)
			}
			out, _, err := checkpoint.ToOpenAI(c.sd)
			if out != nil || err == nil {
				t.Fatalf("ToOpenAI mapped a %s file: %v, %v", c.layout, out, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
