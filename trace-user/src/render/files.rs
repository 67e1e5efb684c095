//! files.txt: the files of the image the container used, for building a minimal image.
//!
//! One absolute path per line, sorted by bytes, each written in recording.json's byte-string form
//! (a line without a backslash is the path itself; `\\` is a backslash, `\xHH` any other byte, so a
//! file name holding a newline still takes one line). A line ending in `/` is a directory that
//! must exist, not its contents (copy with `tar --no-recursion -T` or the like).
//!
//! The list is [`used_files`]: every path the container found in the image, every
//! program it ran, the directories it created files in and the symlinks it went through; not the
//! pseudo filesystems, the container's mounts or what it created itself. See docs/files.md.

use crate::platform::image::used_files;
use crate::recording::{Recording, encode};

/// What files.txt says when the recording holds no file observations: a comment line, which is not
/// an absolute path, so a tool that reads the list fails rather than minimizing to nothing.
pub const NOT_RECORDED: &str = "# files were not recorded (a version 1 recording, or a probe without file events): this list is empty and must not be used to minimize an image\n";

/// files.txt as text (see the module documentation).
pub fn render(recording: &Recording) -> String {
    if !recording.files_recorded() {
        return NOT_RECORDED.to_owned();
    }
    let mut text = String::new();
    for (path, dir) in used_files(recording) {
        text.push_str(&encode(path.as_bytes()));
        if dir {
            text.push('/');
        }
        text.push('\n');
    }
    text
}
