//go:build race

package dirty

const raceEnabled = true
