// Command b3sum prints the BLAKE3 hash of each file named, like the b3sum
// tool: "<hex>  <name>". scripts/fetch-dusk-contracts.sh uses it to check
// what it downloaded without needing b3sum installed.
package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/zeebo/blake3"
)

func main() {
	status := 0
	for _, name := range os.Args[1:] {
		if err := sum(name); err != nil {
			fmt.Fprintln(os.Stderr, "b3sum:", err)
			status = 1
		}
	}
	os.Exit(status)
}

func sum(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := blake3.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Printf("%s  %s\n", hex.EncodeToString(h.Sum(nil)), name)
	return nil
}
