package lstmlm.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Makes sure the PTB text files are in a folder: keeps them when their MD5s match, otherwise downloads
 * Mikolov's simple-examples.tgz, pulls the files out of it, verifies them, and only then moves them in.
 */
public final class PtbDownloader {
    public static final String DEFAULT_URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz";
    public static final String URL_PROPERTY = "lstm.ptb.url";
    public static final String URL_ENV = "LSTM_PTB_URL";
    public static final Path DEFAULT_DIR = Path.of("data", "ptb");

    /** Checksums of the PTB files in simple-examples.tgz (also in data/MD5SUMS). */
    public static final Map<String, String> PTB_MD5 = orderedMap(
            "ptb.train.txt", "f26c4b92c5fdc7b3f8c7cdcb991d8420",
            "ptb.valid.txt", "aa0affc06ff7c36e977d7cd49e3839bf",
            "ptb.test.txt", "8b80168b89c18661a38ef683c0dc3721");

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(15);
    // Time until the response headers arrive; the body itself may take longer on a slow line.
    private static final Duration RESPONSE_TIMEOUT = Duration.ofMinutes(2);

    private final URI archiveUrl;
    private final Path targetDir;
    private final Map<String, String> expectedMd5;
    private final PrintStream progress;

    /**
     * @param expectedMd5 file name → MD5 (hex); each file is taken from the archive entry ending in
     *                    "data/NAME", and the map's order is the order used in messages
     */
    public PtbDownloader(URI archiveUrl, Path targetDir, Map<String, String> expectedMd5, PrintStream progress) {
        String scheme = archiveUrl.getScheme();
        if (scheme == null || !(scheme.equalsIgnoreCase("http") || scheme.equalsIgnoreCase("https"))) {
            throw new DataException("PTB download URL must be http or https: " + archiveUrl
                    + ". Fix -D" + URL_PROPERTY + " or " + URL_ENV + ", or unset them to use " + DEFAULT_URL + ".");
        }
        if (expectedMd5.isEmpty()) {
            throw new IllegalArgumentException("expectedMd5 names no files");
        }
        this.archiveUrl = archiveUrl;
        this.targetDir = targetDir;
        this.expectedMd5 = new LinkedHashMap<>();
        expectedMd5.forEach((name, md5) -> this.expectedMd5.put(name, md5.toLowerCase(Locale.ROOT)));
        this.progress = progress;
    }

    /** The production setup: {@link #defaultUrl()}, data/ptb under the working directory, {@link #PTB_MD5}. */
    public static PtbDownloader withDefaults(PrintStream progress) {
        return new PtbDownloader(defaultUrl(), DEFAULT_DIR, PTB_MD5, progress);
    }

    /** -Dlstm.ptb.url, else $LSTM_PTB_URL, else Mikolov's original location. */
    public static URI defaultUrl() {
        String url = System.getProperty(URL_PROPERTY);
        String source = "-D" + URL_PROPERTY;
        if (url == null || url.isBlank()) {
            url = System.getenv(URL_ENV);
            source = URL_ENV;
        }
        if (url == null || url.isBlank()) {
            return URI.create(DEFAULT_URL);
        }
        try {
            return new URI(url.strip());
        } catch (java.net.URISyntaxException e) {
            throw new DataException("PTB download URL in " + source + " is not a valid URL: " + url
                    + ". Fix it, or unset it to use " + DEFAULT_URL + ".", e);
        }
    }

    /** True when every expected file is in the target folder with the expected MD5. */
    public boolean hasVerifiedFiles() {
        return unverifiedFiles().isEmpty();
    }

    /** Downloads the files unless they are already there and verified; returns the target folder. */
    public Path ensure() {
        List<String> unverified = unverifiedFiles();
        if (unverified.isEmpty()) {
            return targetDir;
        }
        progress.println("Downloading PTB data from " + archiveUrl + " into " + targetDir.toAbsolutePath()
                + " (missing or unverified: " + String.join(", ", unverified) + ") ...");
        long start = System.nanoTime();
        Path archive = null;
        try {
            archive = Files.createTempFile("simple-examples", ".tgz");
            download(archive);
            long archiveBytes = Files.size(archive);
            install(archive);
            progress.printf(Locale.ROOT, "PTB data ready in %s (%.1f MB downloaded and verified in %.1f s).%n",
                    targetDir.toAbsolutePath(), archiveBytes / 1e6, (System.nanoTime() - start) / 1e9);
            return targetDir;
        } catch (IOException e) {
            throw new DataException("Could not save the PTB data (" + e + "). " + manualSetup(), e);
        } finally {
            deleteQuietly(archive);
        }
    }

    private List<String> unverifiedFiles() {
        List<String> unverified = new ArrayList<>();
        expectedMd5.forEach((name, md5) -> {
            Path file = targetDir.resolve(name);
            try {
                if (!Files.isRegularFile(file) || !md5.equals(Md5.of(file))) {
                    unverified.add(name);
                }
            } catch (IOException e) {
                unverified.add(name);
            }
        });
        return unverified;
    }

    private void download(Path archive) {
        try (HttpClient client = HttpClient.newBuilder()
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build()) {
            HttpRequest request = HttpRequest.newBuilder(archiveUrl).timeout(RESPONSE_TIMEOUT).GET().build();
            HttpResponse<Path> response = client.send(request, HttpResponse.BodyHandlers.ofFile(archive));
            if (response.statusCode() != 200) {
                throw downloadFailed("the server answered HTTP " + response.statusCode(), null);
            }
        } catch (IOException e) {
            throw downloadFailed(e.toString(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw downloadFailed("interrupted", e);
        }
    }

    /** Extracts and verifies every expected file next to its final place, then renames them all in. */
    void install(Path archive) throws IOException {
        boolean createdDir = !Files.exists(targetDir);
        Files.createDirectories(targetDir);
        Map<String, Path> staged = new LinkedHashMap<>();
        boolean installed = false;
        try {
            extract(archive, staged);
            for (Map.Entry<String, Path> file : staged.entrySet()) {
                Files.move(file.getValue(), targetDir.resolve(file.getKey()),
                        StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            syncDirectory(targetDir);
            installed = true;
        } finally {
            if (!installed) {
                staged.values().forEach(PtbDownloader::deleteQuietly);
                if (createdDir) {
                    deleteQuietly(targetDir); // only succeeds while empty, which is what we want
                }
            }
        }
    }

    private void extract(Path archive, Map<String, Path> staged) throws IOException {
        try (InputStream in = new GZIPInputStream(new BufferedInputStream(Files.newInputStream(archive)), 1 << 16)) {
            TarReader tar = new TarReader(in);
            for (TarReader.Entry entry; staged.size() < expectedMd5.size() && (entry = tar.next()) != null; ) {
                String name = wantedName(entry);
                if (name == null || staged.containsKey(name)) {
                    continue;
                }
                Path part = Files.createTempFile(targetDir, "." + name + ".", ".part");
                staged.put(name, part);
                String actual = writeSynced(tar, part);
                String expected = expectedMd5.get(name);
                if (!expected.equals(actual)) {
                    throw new DataException("Checksum mismatch for " + name + " in " + archiveUrl + ": expected MD5 "
                            + expected + ", got " + actual + ". Nothing was written to " + targetDir.toAbsolutePath()
                            + ". The download is corrupt or the mirror serves different files: retry, or use another "
                            + "URL via -D" + URL_PROPERTY + " / " + URL_ENV + ". " + manualSetup());
                }
            }
        } catch (TarReader.FormatException | ZipException | EOFException e) {
            // bad bytes, as opposed to a disk problem, which ensure() reports as such
            throw new DataException("The file from " + archiveUrl + " is not a readable simple-examples.tgz (" + e
                    + "). " + manualSetup(), e);
        }
        List<String> missing = new ArrayList<>(expectedMd5.keySet());
        missing.removeAll(staged.keySet());
        if (!missing.isEmpty()) {
            throw new DataException("The archive from " + archiveUrl + " has no entry ending in data/"
                    + String.join(" or data/", missing) + ". " + manualSetup());
        }
    }

    private String wantedName(TarReader.Entry entry) {
        if (!entry.regularFile()) {
            return null;
        }
        for (String name : expectedMd5.keySet()) {
            String suffix = "data/" + name;
            String path = entry.name();
            if (path.equals(suffix) || path.endsWith("/" + suffix)) {
                return name;
            }
        }
        return null;
    }

    /** Writes the current entry to {@code part}, forces it to disk, and returns its MD5. */
    private static String writeSynced(TarReader tar, Path part) throws IOException {
        MessageDigest digest = Md5.newDigest();
        try (FileChannel channel = FileChannel.open(part, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            OutputStream out = new DigestOutputStream(Channels.newOutputStream(channel), digest);
            tar.copyContent(out);
            out.flush();
            channel.force(true);
        }
        return Md5.hex(digest);
    }

    /** Makes the renames durable. Some platforms cannot open a directory for syncing; the files are synced anyway. */
    private static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // best effort only
        }
    }

    private DataException downloadFailed(String reason, Throwable cause) {
        return new DataException("Downloading the PTB data failed: " + reason + ". URL: " + archiveUrl + ". "
                + manualSetup(), cause);
    }

    private String manualSetup() {
        return "To set it up by hand, put " + String.join(", ", expectedMd5.keySet())
                + " (from the data/ folder of simple-examples.tgz, checksums in data/MD5SUMS) into "
                + targetDir.toAbsolutePath() + " (data/download-ptb.sh does this with curl or wget), "
                + "or pass --data-path DIR pointing at a folder that has them.";
    }

    private static void deleteQuietly(Path path) {
        if (path == null) {
            return;
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // a leftover temp file is harmless; the real error is already on its way up
        }
    }

    private static Map<String, String> orderedMap(String... keysAndValues) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return Collections.unmodifiableMap(map);
    }
}
