package daemon

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"
)

// settle is how long the topology files must stay quiet after a change
// the system reported (inotify) before they are read; a second read as
// long after must find them the same (checkFiles' debounce) before they
// are judged. An editor's or a deployment's burst of writes is a few ms.
const settle = 10 * time.Millisecond

// watchFiles checks the topology files as soon as the system reports a
// change in their folders (fsnotify), instead of waiting for the next
// reload tick, which stays as the fallback (a file system without
// notifications, a folder made later). It returns when ctx ends, or at
// once when notifications are not available.
func (d *Daemon) watchFiles(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Info("topology files: no change notifications, checked every reload interval", zap.Error(err))
		return
	}
	defer w.Close()
	watched := map[string]bool{}
	watch := func() {
		for _, f := range d.fileFolders() {
			if watched[f] {
				continue
			}
			if err := w.Add(f); err == nil {
				watched[f] = true
			}
		}
	}
	watch()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	checks := 0 // reads left after the last change: two (debounce)
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Events:
			if !ok {
				return
			}
			if e.Op == fsnotify.Chmod {
				continue
			}
			checks = 2
			timer.Reset(settle)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			d.log.Info("topology files: change notifications", zap.Error(err))
		case <-timer.C:
			d.checkFiles()
			watch() // folders of files newly included
			if checks--; checks > 0 {
				timer.Reset(settle)
			}
		}
	}
}

// fileFolders are the folders that hold the topology files last read,
// and the topology path itself if a folder (or its folder if a file).
func (d *Daemon) fileFolders() []string {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	path := d.cfg.TopologyPath
	seen := map[string]bool{}
	var out []string
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		add(path)
	} else {
		add(filepath.Dir(path))
	}
	for n := range d.lastRead {
		add(filepath.Dir(filepath.Join(d.lastDir, filepath.FromSlash(n))))
	}
	return out
}
