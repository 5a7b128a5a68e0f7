package crashtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHelperChild is the child of TestRun: it reports "R", then numbered
// events until it is killed.
func TestHelperChild(t *testing.T) {
	if os.Getenv("CRASHTEST_CHILD") == "" {
		t.Skip("run by TestRun")
	}
	fmt.Println("R")
	for i := 0; ; i++ {
		fmt.Printf("c %d\n", i)
		time.Sleep(time.Millisecond)
	}
}

// TestRun: the child is killed after its third "c" line at the earliest,
// and every line it reported comes back whole and in order.
func TestRun(t *testing.T) {
	got := Run(t, "TestHelperChild", []string{"CRASHTEST_CHILD=1"}, Kill{Trigger: "c", Nth: 3})
	if len(got) < 4 || got[0] != "R" {
		t.Fatalf("lines %q", got)
	}
	for i, line := range got[1:] {
		if n, err := strconv.Atoi(strings.TrimPrefix(line, "c ")); err != nil || n != i {
			t.Fatalf("line %d: %q", i+1, line)
		}
	}
	got = Run(t, "TestHelperChild", []string{"CRASHTEST_CHILD=1"}, Kill{Delay: 5 * time.Millisecond})
	if got[0] != "R" {
		t.Fatalf("lines %q", got)
	}
}
