package lstmlm.interop;

import lstmlm.modelfile.AtomicFile;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Writes a state dict the way {@code torch.save(state_dict, path)} does, so that
 * {@code torch.load(path, weights_only=True)} reads it: a zip archive of uncompressed records, a protocol-2
 * pickle {@code archive/data.pkl} (an OrderedDict of {@code _rebuild_tensor_v2} calls on float32 storages
 * named by persistent ids), one record {@code archive/data/K} per storage, aligned to 64 bytes as PyTorch
 * aligns them, and {@code archive/version}. Tensors that share one array share one storage, which is
 * how PyTorch stores tied weights.
 */
final class TorchWriter {
    private static final String ARCHIVE = "archive/";
    private static final int ALIGN = 64;
    /** The serialization format version torch.save writes in its "version" record. */
    private static final String VERSION = "3\n";

    private TorchWriter() {}

    /** One tensor to write: row-major float32 values and their shape. */
    record Tensor(String name, long[] shape, float[] values) {
    }

    /** Writes {@code tensors} (atomically: temp file, fsync, rename). */
    static void write(Path file, List<Tensor> tensors) throws IOException {
        Map<float[], String> storages = new IdentityHashMap<>();
        List<float[]> order = new ArrayList<>();
        for (Tensor t : tensors) {
            if (!storages.containsKey(t.values())) {
                storages.put(t.values(), Integer.toString(order.size()));
                order.add(t.values());
            }
        }
        List<Record> records = new ArrayList<>();
        records.add(new Record(ARCHIVE + StateDict.PICKLE, pickle(tensors, storages)));
        records.add(new Record(ARCHIVE + "byteorder", "little".getBytes(StandardCharsets.US_ASCII)));
        for (int i = 0; i < order.size(); i++) records.add(new Record(ARCHIVE + "data/" + i, lstmlm.modelfile.SafetensorsWriter.littleEndianBytes(order.get(i))));
        records.add(new Record(ARCHIVE + "version", VERSION.getBytes(StandardCharsets.US_ASCII)));
        AtomicFile.write(file, ch -> zip(ch, records));
    }

    private record Record(String name, byte[] data) {
    }

    // ---- the pickle ----

    private static byte[] pickle(List<Tensor> tensors, Map<float[], String> storages) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80); // PROTO 2
        p.write(2);
        orderedDict(p);
        p.write('(');
        for (Tensor t : tensors) {
            string(p, t.name());
            global(p, "torch._utils", "_rebuild_tensor_v2");
            p.write('(');
            p.write('('); // the persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel)
            string(p, "storage");
            global(p, "torch", TorchDType.FLOAT.storage);
            string(p, storages.get(t.values()));
            string(p, "cpu");
            integer(p, t.values().length);
            p.write('t');
            p.write('Q'); // BINPERSID
            integer(p, 0); // storage offset
            long[] stride = new long[t.shape().length];
            long s = 1;
            for (int d = stride.length - 1; d >= 0; d--) {
                stride[d] = s;
                s *= t.shape()[d];
            }
            tuple(p, t.shape());
            tuple(p, stride);
            p.write(0x89); // requires_grad = False
            orderedDict(p); // backward hooks
            p.write('t');
            p.write('R');
        }
        p.write('u'); // SETITEMS
        p.write('.');
        return p.toByteArray();
    }

    private static void orderedDict(ByteArrayOutputStream p) {
        global(p, "collections", "OrderedDict");
        p.write(')');
        p.write('R');
    }

    private static void global(ByteArrayOutputStream p, String module, String name) {
        p.write('c');
        p.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void string(ByteArrayOutputStream p, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        p.write('X');
        p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(utf8.length).array());
        p.writeBytes(utf8);
    }

    private static void integer(ByteArrayOutputStream p, long v) {
        if (v == (int) v) {
            p.write('J'); // BININT
            p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
        } else {
            p.write(0x8a); // LONG1, 8 bytes of two's complement
            p.write(8);
            p.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        }
    }

    private static void tuple(ByteArrayOutputStream p, long[] items) {
        p.write('(');
        for (long v : items) integer(p, v);
        p.write('t');
    }

    // ---- the zip ----

    private static void zip(FileChannel ch, List<Record> records) throws IOException {
        ByteBuffer central = ByteBuffer.allocate(records.stream().mapToInt(r -> 46 + utf8(r.name()).length).sum())
                .order(ByteOrder.LITTLE_ENDIAN);
        long at = 0;
        for (Record r : records) {
            byte[] name = utf8(r.name());
            CRC32 crc = new CRC32();
            crc.update(r.data());
            int pad = (int) ((ALIGN - (at + 30 + name.length + 4) % ALIGN) % ALIGN);
            ByteBuffer local = ByteBuffer.allocate(30 + name.length + 4 + pad).order(ByteOrder.LITTLE_ENDIAN);
            local.putInt(0x04034b50).putShort((short) 20).putShort((short) 0).putShort((short) 0) // version, flags, stored
                    .putShort((short) 0).putShort((short) 0x21) // 1980-01-01 00:00
                    .putInt((int) crc.getValue()).putInt(size32(r.data().length)).putInt(size32(r.data().length))
                    .putShort((short) name.length).putShort((short) (4 + pad)).put(name)
                    .putShort((short) 0x4246).putShort((short) pad); // an extra field of padding, as PyTorch's ("FB")
            while (local.hasRemaining()) local.put((byte) 'Z');
            central.putInt(0x02014b50).putShort((short) 20).putShort((short) 20).putShort((short) 0).putShort((short) 0)
                    .putShort((short) 0).putShort((short) 0x21).putInt((int) crc.getValue())
                    .putInt(size32(r.data().length)).putInt(size32(r.data().length)).putShort((short) name.length)
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0)
                    .putInt(size32(at)).put(name);
            AtomicFile.writeFully(ch, local.flip());
            AtomicFile.writeFully(ch, ByteBuffer.wrap(r.data()));
            at += local.limit() + r.data().length;
        }
        ByteBuffer end = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
        end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) records.size())
                .putShort((short) records.size()).putInt(central.capacity()).putInt(size32(at)).putShort((short) 0);
        AtomicFile.writeFully(ch, central.flip());
        AtomicFile.writeFully(ch, end.flip());
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A size or offset for a zip field of 32 bits: beyond 4 GiB the format needs zip64, which this writer does not write. */
    private static int size32(long v) {
        if (v >= 0xffffffffL) throw new TorchFileException("the state dict would exceed 4 GiB, which needs zip64 (not written here); export a smaller model");
        return (int) v;
    }
}
