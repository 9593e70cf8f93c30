package e2e

import (
	"debug/elf"
	"testing"
)

// The binary built as the Dockerfile builds it (CGO_ENABLED=0, see TestMain)
// is static: it runs in a distroless image that has no C library.
func TestBinaryIsStatic(t *testing.T) {
	f, err := elf.Open(exporterBinary)
	if err != nil {
		t.Fatalf("reading the exporter binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP)")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("reading the imported libraries: %v", err)
	}
	if len(libs) > 0 {
		t.Errorf("the binary links shared libraries: %v", libs)
	}
}
