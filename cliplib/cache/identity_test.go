package cache

import "testing"

func TestParseIdentity(t *testing.T) {
	var id Identity
	for i := range id {
		id[i] = byte(i * 7)
	}
	got, err := ParseIdentity(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseIdentity(String()) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "zz", id.String()[:62], id.String() + "00"} {
		if _, err := ParseIdentity(bad); err == nil {
			t.Errorf("ParseIdentity(%q): no error", bad)
		}
	}
}
