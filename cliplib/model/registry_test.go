package model_test

import (
	"reflect"
	"testing"

	"github.com/clipkit/clipkit/cliplib/model"
	_ "github.com/clipkit/clipkit/cliplib/model/families"
)

// The architectures are registered by their families: these tests link them all in.

func TestFromHFConfigDefaultsAreViTB32(t *testing.T) {
	c, err := model.FromHFConfig([]byte(`{"model_type":"clip"}`))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := model.Lookup("ViT-B/32")
	if err != nil {
		t.Fatal(err)
	}
	c.Name = ref.Name
	c.Vision.LayerNormEps, c.Text.LayerNormEps = 0, 0
	if !reflect.DeepEqual(c.Vision, ref.Vision) || c.Text != ref.Text || c.EmbedDim != ref.EmbedDim {
		t.Errorf("defaults %+v differ from ViT-B/32 %+v", c, ref)
	}
}
