package lstmlm.modelfile;

import lstmlm.model.LanguageModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    @Test
    void writerOutputReadsBackTensorByTensorWithMetadata() throws IOException {
        ModelShape shape = new ModelShape(7, 3, 2);
        try (LanguageModel m = new LanguageModel(shape)) {
            m.initialize(9, 0.1f);
            Path file = dir.resolve("m.safetensors");
            SafetensorsWriter.write(file, SafetensorsWriter.entries(m.layout, m.params), Map.of("vocabulary", "a\n\"b\"\\c", "k", "v"));
            // readable like any file the user creates here, not only by its writer (a temp file's default)
            Path ordinary = Files.createFile(dir.resolve("ordinary"));
            assertEquals(Files.getPosixFilePermissions(ordinary), Files.getPosixFilePermissions(file));
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                assertEquals("a\n\"b\"\\c", f.metadata().get("vocabulary"));
                for (ParameterLayout.Tensor t : m.layout.tensors()) {
                    SafetensorsFile.Tensor st = f.tensor(t.name());
                    assertArrayEquals(t.dims(), st.shape());
                    float[] expected = new float[(int) t.size()];
                    for (int i = 0; i < expected.length; i++) expected[i] = m.params.getAtIndex(JAVA_FLOAT, t.offset() + i);
                    assertArrayEquals(expected, f.data(t.name()).toArray(JAVA_FLOAT), t.name());
                }
            }
        }
    }

    @Test
    void aFileWrittenByHandFromTheSpecLoads() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"__metadata__\":{\"x\":\"y\"}}";
        Path file = writeRaw(header, new float[]{1, 2, 3, 4});
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            // the spec does not align the data section; a reader must cope
            assertArrayEquals(new float[]{1, 2, 3, 4}, f.data("w").toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED));
            assertEquals("y", f.metadata().get("x"));
        }
    }

    @Test
    void badFilesAreErrorsNamingTheFileAndTheProblem() throws IOException {
        Path missing = dir.resolve("nope.safetensors");
        assertMessage(missing, "not found");
        assertMessage(Files.write(dir.resolve("tiny"), new byte[3]), "shorter than the 8-byte");
        assertMessage(Files.write(dir.resolve("text"), "hello world, not a model".getBytes(StandardCharsets.UTF_8)),
                "header length");
        assertMessage(writeRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}", new float[4]), "not valid JSON");
        assertMessage(writeRaw("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", new float[1]), "dtype F16");
        assertMessage(writeRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new float[2]), "do not hold shape");
        // a complete header whose data was cut short
        Path whole = writeRaw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", new float[4]);
        byte[] bytes = Files.readAllBytes(whole);
        Path cut = Files.write(dir.resolve("cut.safetensors"), Arrays.copyOf(bytes, bytes.length - 5));
        assertMessage(cut, "truncated");
        // cut inside the header
        Path cutHeader = Files.write(dir.resolve("cuth.safetensors"), Arrays.copyOf(bytes, 20));
        assertMessage(cutHeader, "truncated");
    }

    private void assertMessage(Path file, String fragment) {
        ModelFileException e = assertThrows(ModelFileException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains(file.toString()), e.getMessage());
    }

    private int counter;

    private Path writeRaw(String header, float[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (float x : data) b.putFloat(x);
        return Files.write(dir.resolve("raw" + (counter++) + ".safetensors"), b.array());
    }
}
