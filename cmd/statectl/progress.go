package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws a one-line progress bar on stderr when stderr is a
// terminal, and nothing otherwise (piped output stays clean).
type progressBar struct {
	w     io.Writer
	on    bool
	label string
	start time.Time

	mu    sync.Mutex
	last  time.Time
	drawn bool
	stop  chan struct{}
	done  chan struct{}
}

const barWidth = 30

// progress returns a bar labelled label, drawn only if stderr is a
// terminal.
func (c *cli) progress(label string) *progressBar {
	return &progressBar{w: c.stderr, on: c.stderrTTY && !c.quiet, label: label, start: time.Now()}
}

// update draws done of total, at most ten times a second.
func (p *progressBar) update(done, total int) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last, p.drawn = now, true
	fmt.Fprint(p.w, "\r"+renderBar(p.label, done, total, now.Sub(p.start))+"\x1b[K")
}

// renderBar renders a determinate bar with rate and ETA, or an
// indeterminate one when total is not positive.
func renderBar(label string, done, total int, elapsed time.Duration) string {
	secs := fmt.Sprintf("%.1fs", elapsed.Seconds())
	if total <= 0 {
		// A block bouncing along the bar.
		pos := int(elapsed/(80*time.Millisecond)) % (2 * (barWidth - 4))
		if pos >= barWidth-4 {
			pos = 2*(barWidth-4) - pos
		}
		bar := strings.Repeat(" ", pos) + "====" + strings.Repeat(" ", barWidth-4-pos)
		return fmt.Sprintf("%s [%s] %s", label, bar, secs)
	}
	done = min(done, total)
	frac := float64(done) / float64(total)
	return fmt.Sprintf("%s %s %d/%d %s", label, fracBar(frac), done, total, rateETA(int64(done), frac, elapsed))
}

// fracBar draws a bar filled to frac, with the percentage.
func fracBar(frac float64) string {
	frac = max(0, min(frac, 1))
	filled := int(frac * barWidth)
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), int(frac*100))
}

// rateETA renders the rate of objects per second and, once the fraction
// done is measurable, the time left at the average pace so far.
func rateETA(objects int64, frac float64, elapsed time.Duration) string {
	s := elapsed.Seconds()
	out := fmt.Sprintf("%.1fs", s)
	if s > 0 {
		out += fmt.Sprintf(" %.0f/s", float64(objects)/s)
	}
	if frac > 0.01 && frac < 1 && s > 0.5 {
		left := time.Duration(float64(elapsed) * (1 - frac) / frac)
		out += " ETA " + left.Round(time.Second).String()
	}
	return out
}

// fraction draws a bar for work that knows its share done but not its
// total (gc), with the objects counted so far.
func (p *progressBar) fraction(label string, objects int64, frac float64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.drawn = now, true
	fmt.Fprintf(p.w, "\r%s %s %d objects %s\x1b[K", label, fracBar(frac), objects, rateETA(objects, frac, now.Sub(p.start)))
}

// spin animates an indeterminate bar until finish, for work that reports
// no progress of its own.
func (p *progressBar) spin() {
	if !p.on {
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(80 * time.Millisecond)
		defer t.Stop()
		for {
			p.mu.Lock()
			fmt.Fprint(p.w, "\r"+renderBar(p.label, 0, 0, time.Since(p.start))+"\x1b[K")
			p.drawn = true
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// finish stops the bar and erases it.
func (p *progressBar) finish() {
	if !p.on {
		return
	}
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}
