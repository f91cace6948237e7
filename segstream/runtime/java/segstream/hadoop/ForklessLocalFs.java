package segstream.hadoop;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFs;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FsConstants;

/**
 * `fs.AbstractFileSystem.file.impl`: what FileContext uses for file:// (Spark's checkpoint
 * files and Delta's log go through it), over {@link ForklessRawLocalFileSystem}. Hadoop's own
 * LocalFs builds its raw file system itself, so it cannot be given this one.
 */
public class ForklessLocalFs extends ChecksumFs {
  public ForklessLocalFs(URI uri, Configuration conf) throws IOException, URISyntaxException {
    super(new Raw(uri, conf));
  }

  static final class Raw extends DelegateToFileSystem {
    Raw(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(uri, new ForklessRawLocalFileSystem(), conf, FsConstants.LOCAL_FS_URI.getScheme(), false);
    }

    /** Local paths have no port (as Hadoop's RawLocalFs). */
    @Override
    public int getUriDefaultPort() {
      return -1;
    }

    /** Any local path name is valid (as Hadoop's RawLocalFs). */
    @Override
    public boolean isValidName(String src) {
      return true;
    }
  }
}
