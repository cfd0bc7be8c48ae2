package fim

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"slices"

	"lukechampine.com/blake3"
)

// Algorithms are the content digests a baseline can use.
var Algorithms = []string{"sha256", "blake3"}

// newHash returns a digest for the algorithm.
func newHash(alg string) (hash.Hash, error) {
	switch alg {
	case "sha256":
		return sha256.New(), nil
	case "blake3":
		return blake3.New(32, nil), nil
	default:
		return nil, fmt.Errorf("unknown hash %q (want %v)", alg, Algorithms)
	}
}

// ValidAlgorithm reports whether alg is supported.
func ValidAlgorithm(alg string) bool { return slices.Contains(Algorithms, alg) }

func newSHA256() hash.Hash { return sha256.New() }
