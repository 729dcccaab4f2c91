"""Photos: resumable uploads (tus 1.0.0), storage, EXIF, thumbnails, downloads."""
