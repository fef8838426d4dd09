package lstmlm.interop;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The restricted pickle reader: what a state dict needs is read, anything that could run code is refused where it appears. */
class PickleTest {
    @TempDir
    Path dir;

    /** A pickle of protocol 2 from its opcodes, written out here by hand. */
    private static byte[] pickle(String... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x80);
        out.write(2);
        for (String p : parts) out.writeBytes(p.getBytes(StandardCharsets.ISO_8859_1));
        return out.toByteArray();
    }

    @Test
    void osSystemIsRefusedAndNeverRun() {
        Path marker = dir.resolve("ran");
        // os.system('touch <marker>'): GLOBAL, the argument tuple, REDUCE, STOP
        String command = "touch " + marker;
        byte[] evil = pickle("cos\nsystem\n", "X" + le32(command.length()) + command, "\u0085R.");
        TorchFileException e = assertThrows(TorchFileException.class, () -> Pickle.read(evil, "evil.pt"));
        assertTrue(e.getMessage().startsWith("evil.pt: it names the global 'os.system', which is not part of a state dict"), e.getMessage());
        assertTrue(e.getMessage().contains("nothing was run"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
        assertFalse(e.getMessage().contains("torch.save(model)"), "os.system is not a pickled module: no conversion hint");
        assertFalse(Files.exists(marker), "the command ran");
    }

    @Test
    void theSameThroughStackGlobalAndBuiltinsEvalAreRefused() {
        byte[] stackGlobal = pickle("X" + le32(2) + "os", "X" + le32(6) + "system", "\u0093.");
        assertTrue(assertThrows(TorchFileException.class, () -> Pickle.read(stackGlobal, "s")).getMessage().contains("'os.system'"));
        byte[] eval = pickle("c__builtin__\neval\n.");
        assertTrue(assertThrows(TorchFileException.class, () -> Pickle.read(eval, "e")).getMessage().contains("'__builtin__.eval'"));
        // a storage type from another module than torch is not a storage type
        byte[] fake = pickle("cnot_torch\nFloatStorage\n.");
        assertTrue(assertThrows(TorchFileException.class, () -> Pickle.read(fake, "f")).getMessage().contains("'not_torch.FloatStorage'"));
    }

    @Test
    void aPickledModuleGetsTheConversionToAStateDict() {
        byte[] module = pickle("c__main__\nRNNModel\n)\u0081.");
        String m = assertThrows(TorchFileException.class, () -> Pickle.read(module, "model.pt")).getMessage();
        assertTrue(m.contains("'__main__.RNNModel'") && m.contains("torch.save(model.state_dict(), 'state_dict.pt')"), m);
    }

    @Test
    void opcodesThatBuildObjectsAreRefusedByName() {
        byte[] newobj = pickle("cc\nd\n"); // GLOBAL refused before NEWOBJ is reached; NEWOBJ alone:
        assertThrows(TorchFileException.class, () -> Pickle.read(newobj, "x"));
        for (String op : List.of("\u0081", "\u0092", "o", "i", "P", "\u0082")) {
            String m = assertThrows(TorchFileException.class, () -> Pickle.read(pickle(")", op, "."), "x")).getMessage();
            assertTrue(m.contains("which a state dict does not need") || m.contains("not a pickle opcode"), m);
        }
    }

    @Test
    void damagedPicklesAreRefusedNotCrashed() {
        List<byte[]> bad = List.of(new byte[0], pickle(), pickle("X\u00ff\u00ff\u00ff\u007f"), pickle("h\u0005."),
                pickle("0."), pickle("t."), pickle("N\u0086."), pickle("K\u0001K\u0002."), pickle("\u008a\u0009"),
                pickle("}]Ns."), pickle("cos\nsys"), HexFormat.of().parseHex("8005"));
        for (byte[] b : bad) {
            assertThrows(TorchFileException.class, () -> Pickle.read(b, "bad"), HexFormat.of().formatHex(b));
        }
    }

    @Test
    void whatTheWriterWritesTheReaderReads() throws Exception {
        float[] shared = {1.5f, -2f, 3.25f, 0f, -0f, Float.MIN_VALUE};
        float[] bias = {7f, 8f};
        Path file = dir.resolve("sd.pt");
        TorchWriter.write(file, List.of(new TorchWriter.Tensor("a", new long[]{2, 3}, shared),
                new TorchWriter.Tensor("b", new long[]{2}, bias), new TorchWriter.Tensor("c", new long[]{3, 2}, shared)));
        Map<String, StateDict.Tensor> t = StateDict.read(file).tensors();
        assertEquals(List.of("a", "b", "c"), List.copyOf(t.keySet()));
        assertArrayEquals(new long[]{2, 3}, t.get("a").shape());
        assertArrayEquals(shared, t.get("a").values());
        assertArrayEquals(bias, t.get("b").values());
        assertEquals(t.get("a").storage().split("@")[0], t.get("c").storage().split("@")[0], "one storage for one array");
    }

    @Test
    void aStridedViewIsReadInRowMajorOrderAndOneOutsideItsStorageIsRefused() {
        // a [2, 3] tensor viewing a 6-element storage transposed: stride (1, 2)
        byte[] p = tensorPickle(0, new long[]{2, 3}, new long[]{1, 2}, 6);
        MemorySegment storage = MemorySegment.ofArray(new byte[24]);
        for (int i = 0; i < 6; i++) storage.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, i);
        StateDict sd = StateDict.fromPickle(p, "t", k -> storage);
        assertArrayEquals(new float[]{0, 2, 4, 1, 3, 5}, sd.tensors().get("w").values());
        byte[] past = tensorPickle(1, new long[]{2, 3}, new long[]{3, 1}, 6);
        String m = assertThrows(TorchFileException.class, () -> StateDict.fromPickle(past, "t", k -> storage)).getMessage();
        assertTrue(m.contains("reaches past its storage of 6 elements"), m);
        byte[] claims = tensorPickle(0, new long[]{2, 3}, new long[]{3, 1}, 1L << 40);
        m = assertThrows(TorchFileException.class, () -> StateDict.fromPickle(claims, "t", k -> storage)).getMessage();
        assertTrue(m.contains("claims 1099511627776 elements"), m);
    }

    /** {'w': _rebuild_tensor_v2(storage '0' of numel floats, offset, size, stride, False, OrderedDict())}, as torch.save writes it. */
    private static byte[] tensorPickle(long offset, long[] size, long[] stride, long numel) {
        StringBuilder s = new StringBuilder("}X" + le32(1) + "wctorch._utils\n_rebuild_tensor_v2\n((X" + le32(7) + "storage"
                + "ctorch\nFloatStorage\nX" + le32(1) + "0X" + le32(3) + "cpu" + long8(numel) + "tQ" + long8(offset) + "(");
        for (long d : size) s.append(long8(d));
        s.append("t(");
        for (long d : stride) s.append(long8(d));
        s.append("t\u0089ccollections\nOrderedDict\n)RtRs.");
        return pickle(s.toString());
    }

    private static String le32(int n) {
        return new String(new byte[]{(byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24)}, StandardCharsets.ISO_8859_1);
    }

    /** LONG1 of 8 bytes. */
    private static String long8(long v) {
        byte[] b = new byte[10];
        b[0] = (byte) 0x8a;
        b[1] = 8;
        for (int i = 0; i < 8; i++) b[2 + i] = (byte) (v >> (8 * i));
        return new String(b, StandardCharsets.ISO_8859_1);
    }
}
