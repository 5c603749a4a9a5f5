package daemon

import (
	"context"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch reloads on requests from reload and, debounced, on changes under
// the checks directory. fsnotify does not recurse, so every directory is
// watched and new ones are added as they appear.
func (d *Daemon) watch(ctx context.Context, reload <-chan struct{}) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Warn("file watching unavailable; reload with SIGHUP or POST /-/reload", "error", err.Error())
	} else {
		defer w.Close()
		d.addDirs(w, d.opts.Config.Checks.Dir)
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			_ = d.Reload()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Has(fsnotify.Create) {
				d.addDirs(w, ev.Name)
			}
			debounce.Reset(d.opts.Config.Checks.ReloadDebounce.D())
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			d.log.Warn("file watcher", "error", err.Error())
		case <-debounce.C:
			d.log.Info("checks directory changed; reloading")
			_ = d.Reload()
		}
	}
}

func (d *Daemon) addDirs(w *fsnotify.Watcher, root string) {
	_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return nil
		}
		if err := w.Add(p); err != nil {
			d.log.Warn("cannot watch directory", "dir", p, "error", err.Error())
		}
		return nil
	})
}
