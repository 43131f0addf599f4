package checkpoint

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The same tiny CLIP weights as an HF CLIPModel safetensors, an open_clip .bin and a TorchScript
// trace must all map to exactly the OpenAI-named tensors torch reported for the open_clip model.
func TestToOpenAIGivesTheOpenCLIPTensorsFromEveryFormat(t *testing.T) {
	exp := loadExpected(t)
	want := map[string]expectedTensor{}
	for k, v := range exp.TinyCLIP.OpenAI {
		v.DType = "" // the formats store different dtypes; the float32 values must be identical
		want[k] = v
	}
	for _, tc := range []struct {
		file   string
		layout Layout
	}{
		{"hf_tiny_clip/model.safetensors", LayoutHF},
		{"openclip_tiny/open_clip_pytorch_model.bin", LayoutOpenAI},
		{"openclip_tiny/traced.pt", LayoutOpenAI},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sd, _, err := ReadFile(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if tc.layout == LayoutHF {
				keys := SortedKeys(sd)
				if fmt.Sprint(keys) != fmt.Sprint(exp.TinyCLIP.HFKeys) {
					t.Fatalf("HF fixture keys %v, transformers reported %v", keys, exp.TinyCLIP.HFKeys)
				}
			}
			out, layout, err := ToOpenAI(sd)
			if err != nil {
				t.Fatal(err)
			}
			if layout != tc.layout {
				t.Errorf("layout %s, want %s", layout, tc.layout)
			}
			checkStateDict(t, out, want)
			if ls := out["logit_scale"]; ls == nil || len(ls.Shape) != 0 {
				t.Errorf("logit_scale = %v, want a scalar", ls)
			}
		})
	}
}

func TestToOpenAICleansOpenAILayout(t *testing.T) {
	v := func(shape ...int) *Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return &Tensor{Shape: shape, DType: F32, Data: make([]float32, n)}
	}
	in := StateDict{
		"module.logit_scale":                              {Shape: []int{1}, DType: F32, Data: []float32{4.6}},
		"module.visual.conv1.weight":                      v(8, 3, 2, 2),
		"module.visual.bn1.running_var":                   v(8),
		"module.visual.bn1.num_batches_tracked":           {Shape: []int{}, DType: I64, Ints: []int64{5}},
		"module.visual.layer4.2.downsample.1.bias":        v(8),
		"module.visual.attnpool.c_proj.weight":            v(4, 8),
		"module.transformer.resblocks.11.mlp.c_fc.bias":   v(16),
		"module.input_resolution":                         {Shape: []int{}, DType: I64, Ints: []int64{224}},
		"module.context_length":                           {Shape: []int{}, DType: I64, Ints: []int64{77}},
		"module.vocab_size":                               {Shape: []int{}, DType: I64, Ints: []int64{49408}},
		"module.attn_mask":                                v(4, 4),
		"module.visual.transformer.resblocks.0.attn_mask": v(4, 4),
		"module.embeddings.position_ids":                  {Shape: []int{1, 4}, DType: I64, Ints: []int64{0, 1, 2, 3}},
	}
	out, layout, err := ToOpenAI(in)
	if err != nil {
		t.Fatal(err)
	}
	if layout != LayoutOpenAI {
		t.Errorf("layout %s", layout)
	}
	want := []string{
		"logit_scale", "transformer.resblocks.11.mlp.c_fc.bias", "visual.attnpool.c_proj.weight",
		"visual.bn1.num_batches_tracked", "visual.bn1.running_var", "visual.conv1.weight",
		"visual.layer4.2.downsample.1.bias",
	}
	if got := SortedKeys(out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	if ls := out["logit_scale"]; len(ls.Shape) != 0 || ls.Data[0] != 4.6 {
		t.Errorf("logit_scale %v %v, want scalar 4.6", ls.Shape, ls.Data)
	}
	if s := in["module.logit_scale"].Shape; len(s) != 1 {
		t.Errorf("input logit_scale shape changed to %v", s)
	}
	if out["visual.conv1.weight"] != in["module.visual.conv1.weight"] {
		t.Error("unchanged tensors should be shared, not copied")
	}
}

// hfSynthetic builds an HF CLIPModel state dict whose every element is distinct, with two
// vision and two text layers.
func hfSynthetic(w, e int) StateDict {
	next := float32(0)
	mk := func(shape ...int) *Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		t := &Tensor{Shape: shape, DType: F32, Data: make([]float32, n)}
		for i := range t.Data {
			next++
			t.Data[i] = next
		}
		return t
	}
	sd := StateDict{
		"logit_scale": mk(),
		"vision_model.embeddings.patch_embedding.weight":    mk(w, 3, 2, 2),
		"vision_model.embeddings.class_embedding":           mk(w),
		"vision_model.embeddings.position_embedding.weight": mk(5, w),
		"vision_model.embeddings.position_ids":              {Shape: []int{1, 5}, DType: I64, Ints: []int64{0, 1, 2, 3, 4}},
		"vision_model.pre_layrnorm.weight":                  mk(w),
		"vision_model.pre_layrnorm.bias":                    mk(w),
		"vision_model.post_layernorm.weight":                mk(w),
		"vision_model.post_layernorm.bias":                  mk(w),
		"text_model.embeddings.token_embedding.weight":      mk(10, w),
		"text_model.embeddings.position_embedding.weight":   mk(4, w),
		"text_model.final_layer_norm.weight":                mk(w),
		"text_model.final_layer_norm.bias":                  mk(w),
		"visual_projection.weight":                          mk(e, w),
		"text_projection.weight":                            mk(e, w),
	}
	for _, tower := range []string{"vision_model", "text_model"} {
		for l := 0; l < 2; l++ {
			p := fmt.Sprintf("%s.encoder.layers.%d.", tower, l)
			for _, c := range []string{"q", "k", "v", "out"} {
				sd[p+"self_attn."+c+"_proj.weight"] = mk(w, w)
				sd[p+"self_attn."+c+"_proj.bias"] = mk(w)
			}
			for _, n := range []string{"layer_norm1", "layer_norm2"} {
				sd[p+n+".weight"], sd[p+n+".bias"] = mk(w), mk(w)
			}
			sd[p+"mlp.fc1.weight"], sd[p+"mlp.fc1.bias"] = mk(2*w, w), mk(2*w)
			sd[p+"mlp.fc2.weight"], sd[p+"mlp.fc2.bias"] = mk(w, 2*w), mk(w)
		}
	}
	return sd
}

func TestToOpenAIConcatenatesQKVAndTransposesProjections(t *testing.T) {
	const w, e = 4, 3
	hf := hfSynthetic(w, e)
	out, layout, err := ToOpenAI(hf)
	if err != nil {
		t.Fatal(err)
	}
	if layout != LayoutHF {
		t.Errorf("layout %s", layout)
	}
	for _, tc := range []struct{ hfTower, oaBlock string }{
		{"vision_model", "visual.transformer.resblocks."},
		{"text_model", "transformer.resblocks."},
	} {
		for l := 0; l < 2; l++ {
			hp := fmt.Sprintf("%s.encoder.layers.%d.self_attn.", tc.hfTower, l)
			op := fmt.Sprintf("%s%d.attn.", tc.oaBlock, l)
			for _, kind := range []string{"weight", "bias"} {
				got := out[op+"in_proj_"+kind]
				var want []float32
				for _, c := range []string{"q", "k", "v"} {
					want = append(want, hf[hp+c+"_proj."+kind].Data...)
				}
				if got == nil || fmt.Sprint(got.Data) != fmt.Sprint(want) {
					t.Errorf("%sin_proj_%s is not q,k,v concatenated", op, kind)
				}
			}
			if got := out[fmt.Sprintf("%s%d.mlp.c_proj.weight", tc.oaBlock, l)]; got != hf[fmt.Sprintf("%s.encoder.layers.%d.mlp.fc2.weight", tc.hfTower, l)] {
				t.Errorf("layer %d mlp.fc2 not mapped to %s%d.mlp.c_proj", l, tc.oaBlock, l)
			}
		}
		if got := out[tc.oaBlock+"0.attn.in_proj_weight"]; got != nil && !equalInts(got.Shape, []int{3 * w, w}) {
			t.Errorf("in_proj_weight shape %v, want [%d %d]", got.Shape, 3*w, w)
		}
	}
	for _, tc := range []struct{ hf, oa string }{{"visual_projection.weight", "visual.proj"}, {"text_projection.weight", "text_projection"}} {
		src, got := hf[tc.hf], out[tc.oa]
		if got == nil || !equalInts(got.Shape, []int{w, e}) {
			t.Fatalf("%s = %v, want shape [%d %d]", tc.oa, got, w, e)
		}
		for i := 0; i < e; i++ {
			for j := 0; j < w; j++ {
				if got.Data[j*e+i] != src.Data[i*w+j] {
					t.Fatalf("%s[%d][%d] = %v, want %s[%d][%d] = %v", tc.oa, j, i, got.Data[j*e+i], tc.hf, i, j, src.Data[i*w+j])
				}
			}
		}
	}
	// Every OpenAI key produced is a valid OpenAI name, and nothing but position_ids was dropped.
	n := 0
	for k := range out {
		if !openAIKeyPatterns.MatchString(k) {
			t.Errorf("produced non-OpenAI key %s", k)
		}
		n++
	}
	// 2 towers × 2 layers × 6 q/k/v tensors become 2 each.
	if want := len(hf) - 1 - 2*2*(6-2); n != want {
		t.Errorf("%d keys out, want %d", n, want)
	}
}

// testLayout is a layout registered as a tower family registers its own (RegisterLayout); its
// prefix is no real checkpoint's.
const testLayout Layout = "test-family"

var registerTestLayout = sync.OnceFunc(func() { RegisterLayout(testLayout, AnyPrefix("testfamily.")) })

func TestToOpenAIRejectsUnknownAndIncompleteLayouts(t *testing.T) {
	registerTestLayout()
	one := func() *Tensor { return &Tensor{Shape: []int{1}, DType: F32, Data: []float32{1}} }
	withHF := func(edit func(StateDict)) StateDict {
		sd := hfSynthetic(4, 3)
		edit(sd)
		return sd
	}
	for _, tc := range []struct {
		name string
		sd   StateDict
		want []string
	}{
		{"empty", StateDict{}, []string{"no tensors"}},
		{"unknown", StateDict{"encoder.weight": one(), "decoder.bias": one()}, []string{"unknown checkpoint layout", "decoder.bias", "encoder.weight"}},
		{"registered layout", StateDict{"testfamily.stem.weight": one(), "visual.proj": one()}, []string{string(testLayout), "cannot be mapped to OpenAI CLIP names", "testfamily.stem.weight"}},
		{"OpenAI with foreign key", StateDict{"visual.proj": one(), "visual.attn_pool.query": one(), "logit_bias": one()}, []string{"not OpenAI CLIP parameters", "logit_bias", "visual.attn_pool.query"}},
		{"bad logit_scale", StateDict{"visual.proj": one(), "logit_scale": {Shape: []int{2}, DType: F32, Data: []float32{1, 2}}}, []string{"logit_scale"}},
		{"module prefix clash", StateDict{"visual.proj": one(), "module.visual.proj": one()}, []string{"both"}},
		{"HF leftover key", withHF(func(sd StateDict) { sd["vision_model.encoder.layers.0.self_attn.q_norm.weight"] = one() }), []string{"no OpenAI equivalent", "q_norm"}},
		{"HF unknown top-level", withHF(func(sd StateDict) { sd["vision_model.head.weight"] = one() }), []string{"vision_model.head.weight"}},
		{"HF missing k_proj", withHF(func(sd StateDict) { delete(sd, "text_model.encoder.layers.1.self_attn.k_proj.weight") }), []string{"transformer.resblocks.1.attn", "k_proj.weight is missing", "have q,v"}},
		{"HF mismatched q/k/v", withHF(func(sd StateDict) {
			sd["vision_model.encoder.layers.0.self_attn.v_proj.weight"] = &Tensor{Shape: []int{4, 5}, DType: F32, Data: make([]float32, 20)}
		}), []string{"visual.transformer.resblocks.0.attn.in_proj_weight", "shapes differ"}},
		{"HF 3-D projection", withHF(func(sd StateDict) {
			sd["visual_projection.weight"] = &Tensor{Shape: []int{1, 3, 4}, DType: F32, Data: make([]float32, 12)}
		}), []string{"visual_projection.weight", "2-D"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := ToOpenAI(tc.sd)
			if out != nil {
				t.Error("got a state dict along with an error")
			}
			errContains(t, err, tc.want...)
		})
	}
}

func TestRegisteredLayoutsComeBeforeTheGenericOnes(t *testing.T) {
	registerTestLayout()
	one := &Tensor{Shape: []int{1}, DType: F32, Data: []float32{1}}
	// "visual.proj" alone is OpenAI's; with a registered layout's key, the registered layout wins.
	for _, c := range []struct {
		sd   StateDict
		want Layout
	}{
		{StateDict{"visual.proj": one}, LayoutOpenAI},
		{StateDict{"visual.proj": one, "module.testfamily.stem.weight": one}, testLayout},
		{StateDict{"vision_model.post_layernorm.weight": one, "testfamily.x": one}, testLayout},
	} {
		if got, err := DetectLayout(c.sd); err != nil || got != c.want {
			t.Errorf("DetectLayout(%v) = %q, %v; want %q", SortedKeys(c.sd), got, err, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		layout Layout
		detect func([]string) bool
		want   string
	}{
		{"twice", testLayout, AnyPrefix("other."), "registered twice"},
		{"generic", LayoutHF, AnyPrefix("other."), "registered twice"},
		{"no detector", "test-no-detector", nil, "without a detect function"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if err, ok := r.(error); !ok || !strings.Contains(err.Error(), c.want) {
					t.Errorf("panic %v, want an error containing %q", r, c.want)
				}
			}()
			RegisterLayout(c.layout, c.detect)
		})
	}
	if got, err := DetectLayout(StateDict{"other.x": one}); err == nil {
		t.Errorf("a refused registration was kept: %q", got)
	}
}

func TestDetectLayout(t *testing.T) {
	hf := hfSynthetic(4, 3)
	got, err := DetectLayout(hf)
	if err != nil || got != LayoutHF {
		t.Errorf("HF: %s, %v", got, err)
	}
	oa, _, err := ToOpenAI(hf)
	if err != nil {
		t.Fatal(err)
	}
	prefixed := StateDict{}
	keys := SortedKeys(oa)
	sort.Strings(keys)
	for _, k := range keys {
		prefixed["module."+k] = oa[k]
	}
	if got, err := DetectLayout(prefixed); err != nil || got != LayoutOpenAI {
		t.Errorf("OpenAI with module. prefix: %s, %v", got, err)
	}
}
