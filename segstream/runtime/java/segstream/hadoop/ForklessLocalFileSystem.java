package segstream.hadoop;

import org.apache.hadoop.fs.LocalFileSystem;

/** `fs.file.impl`: the checksummed local file system over {@link ForklessRawLocalFileSystem}. */
public class ForklessLocalFileSystem extends LocalFileSystem {
  public ForklessLocalFileSystem() {
    super(new ForklessRawLocalFileSystem());
  }
}
