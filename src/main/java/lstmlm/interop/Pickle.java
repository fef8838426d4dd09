package lstmlm.interop;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A pickle reader that builds data and never runs anything: the opcodes of protocols 2 to 5 that
 * make numbers, strings, tuples, lists and dicts, plus the few globals a PyTorch state dict names
 * ({@code collections.OrderedDict}, {@code torch._utils._rebuild_tensor_v2} and
 * {@code _rebuild_parameter}, the {@code torch.*Storage} types) and persistent ids of storages.
 * Any other global, and every opcode that builds an object of a class ({@code NEWOBJ}, {@code INST},
 * {@code OBJ}, extensions), is refused where it appears with a {@link TorchFileException} that names it:
 * nothing named in the file is ever looked up, loaded or called. This is the rule of
 * {@code torch.load(weights_only=True)}, with a smaller list.
 *
 * <p>What comes out: {@link Long} or {@link BigInteger} (int), {@link Double}, {@link String},
 * {@code byte[]}, {@link Boolean}, {@link #NONE}, {@link Tuple}, {@link ArrayList} (list),
 * {@link LinkedHashMap} (dict and OrderedDict), {@link TensorRef} and {@link StorageRef}.
 */
final class Pickle {
    /** Python's None. */
    static final Object NONE = new Object() {
        @Override
        public String toString() {
            return "None";
        }
    };

    /** A tuple: immutable, so a dict key may be one. */
    record Tuple(List<Object> items) {
    }

    /** A storage named by a persistent id ('storage', type, key, location, numel). */
    record StorageRef(String key, TorchDType dtype, long elements) {
    }

    /** A tensor as {@code _rebuild_tensor_v2} describes it: a view of a storage. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {
    }

    /** A global the reader knows. */
    private record Global(String module, String name) {
        String qualified() {
            return TorchFileException.shown(module + "." + name);
        }
    }

    private static final Global ORDERED_DICT = new Global("collections", "OrderedDict");
    private static final Global REBUILD_TENSOR = new Global("torch._utils", "_rebuild_tensor_v2");
    private static final Global REBUILD_PARAMETER = new Global("torch._utils", "_rebuild_parameter");
    /** The globals a state dict uses; storage types are checked apart ({@link TorchDType#ofStorage}). */
    private static final Set<Global> ALLOWED = Set.of(ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER);

    private final ByteBuffer in;
    private final String source;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private Pickle(byte[] bytes, String source) {
        this.in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        this.source = source;
    }

    /**
     * Reads one pickle.
     *
     * @param source what to call the bytes in messages (the file and record)
     * @throws TorchFileException for anything but a pickle made of the allowed parts
     */
    static Object read(byte[] bytes, String source) {
        return new Pickle(bytes, source).run();
    }

    private TorchFileException bad(String what) {
        return new TorchFileException(source + ": " + what);
    }

    private Object run() {
        try {
            return opcodes();
        } catch (java.nio.BufferUnderflowException e) {
            throw bad("an opcode's argument runs past the end of the pickle (truncated)");
        }
    }

    private Object opcodes() {
        while (true) {
            if (!in.hasRemaining()) throw bad("the pickle ends without its STOP opcode (truncated)");
            int at = in.position();
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int protocol = u8();
                    if (protocol < 2 || protocol > 5) throw bad("pickle protocol " + protocol + " (torch.save writes 2; 2 to 5 are read)");
                }
                case 0x95 -> skip(8); // FRAME: a length hint only
                case '.' -> { // STOP
                    if (stack.size() != 1 || !marks.isEmpty()) {
                        throw bad("the pickle stops with " + stack.size() + " values on its stack, not 1");
                    }
                    return stack.getFirst();
                }
                case '(' -> marks.add(stack.size());
                case '0' -> pop();
                case '1' -> popMark();
                case '2' -> push(peek());
                case 'N' -> push(NONE);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) in.getInt());
                case 'K' -> push((long) u8());
                case 'M' -> push((long) (in.getShort() & 0xffff));
                case 0x8a -> push(longN(u8()));
                case 0x8b -> push(longN(length(in.getInt())));
                case 'G' -> push(ByteBuffer.wrap(in.array(), checked(8), 8).getDouble()); // big-endian
                case 'X' -> push(utf8(length(in.getInt())));
                case 0x8c -> push(utf8(u8()));
                case 0x8d -> push(utf8(length(in.getLong())));
                case 'B' -> push(bytes(length(in.getInt())));
                case 'C' -> push(bytes(u8()));
                case 0x8e -> push(bytes(length(in.getLong())));
                case 'T' -> push(latin1(length(in.getInt())));
                case 'U' -> push(latin1(u8()));
                case ')' -> push(new Tuple(List.of()));
                case 't' -> push(new Tuple(immutable(popMark())));
                case 0x85 -> push(tuple(1));
                case 0x86 -> push(tuple(2));
                case 0x87 -> push(tuple(3));
                case ']' -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popMark()));
                case 'a' -> {
                    Object v = pop();
                    list(peek(), "APPEND").add(v);
                }
                case 'e' -> {
                    List<Object> items = popMark();
                    list(peek(), "APPENDS").addAll(items);
                }
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> {
                    Map<Object, Object> d = new LinkedHashMap<>();
                    putAll(d, popMark());
                    push(d);
                }
                case 's' -> {
                    Object v = pop(), k = pop();
                    put(dict(peek(), "SETITEM"), k, v);
                }
                case 'u' -> {
                    List<Object> items = popMark();
                    putAll(dict(peek(), "SETITEMS"), items);
                }
                case 'q' -> memo.put((long) u8(), peek());
                case 'r' -> memo.put(in.getInt() & 0xffffffffL, peek());
                case 0x94 -> memo.put((long) memo.size(), peek());
                case 'h' -> push(memo((long) u8()));
                case 'j' -> push(memo(in.getInt() & 0xffffffffL));
                case 'c' -> push(global(line(), line()));
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw bad("STACK_GLOBAL of " + describe(module) + " and " + describe(name) + ", not two strings");
                    }
                    push(global(m, n));
                }
                case 'R' -> {
                    Object args = pop(), callable = pop();
                    push(reduce(callable, args));
                }
                case 'b' -> {
                    Object state = pop();
                    build(peek(), state);
                }
                case 'Q' -> push(persistentId(pop()));
                default -> throw bad(refusedOpcode(op) + " at byte " + at + "; nothing was run");
            }
        }
    }

    /** What a refused opcode is, in words: the opcodes that build objects, or not a pickle opcode at all. */
    private static String refusedOpcode(int op) {
        String name = switch (op) {
            case 0x81 -> "NEWOBJ";
            case 0x92 -> "NEWOBJ_EX";
            case 'o' -> "OBJ";
            case 'i' -> "INST";
            case 'P' -> "PERSID";
            case 0x82, 0x83, 0x84 -> "EXT";
            case 0x8f, 0x90, 0x91 -> "a set";
            case 0x96, 0x97, 0x98 -> "an out-of-band buffer";
            case 'I', 'L', 'F', 'S', 'V', 'p', 'g' -> "a protocol-0 text opcode";
            default -> null;
        };
        return name == null ? String.format("byte 0x%02x is not a pickle opcode this reader knows", op)
                : "the pickle uses " + name + ", which a state dict does not need";
    }

    private Global global(String module, String name) {
        Global g = new Global(module, name);
        if (ALLOWED.contains(g) || (module.equals("torch") && TorchDType.ofStorage(name) != null)) return g;
        String hint = name.isEmpty() || !Character.isUpperCase(name.charAt(0)) ? ""
                : " If this file is a whole model saved with torch.save(model), convert it to a state dict in Python:"
                + " `model = torch.load(PATH, weights_only=False)` (only for a file you trust), then"
                + " `torch.save(model.state_dict(), 'state_dict.pt')`.";
        throw bad("it names the global '" + g.qualified() + "', which is not part of a state dict (tensors in dicts);"
                + " refused, nothing was run." + hint);
    }

    private Object reduce(Object callable, Object args) {
        if (!(callable instanceof Global g)) throw bad("REDUCE calls " + describe(callable) + ", not a known global");
        if (!(args instanceof Tuple t)) throw bad("REDUCE gives " + g.qualified() + " " + describe(args) + ", not a tuple");
        List<Object> a = t.items();
        if (g.equals(ORDERED_DICT)) {
            if (a.isEmpty()) return new LinkedHashMap<>();
            if (a.size() == 1 && a.getFirst() instanceof List<?> pairs) {
                Map<Object, Object> d = new LinkedHashMap<>();
                for (Object p : pairs) {
                    if (!(p instanceof Tuple pair) || pair.items().size() != 2) throw bad("OrderedDict of " + describe(p) + ", not (key, value) pairs");
                    put(d, pair.items().get(0), pair.items().get(1));
                }
                return d;
            }
            throw bad("OrderedDict(" + a.size() + " arguments) is not how a state dict is written");
        }
        if (g.equals(REBUILD_TENSOR)) {
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            if (a.size() < 6 || a.size() > 7) throw bad("_rebuild_tensor_v2 with " + a.size() + " arguments, not 6 or 7");
            if (!(a.get(0) instanceof StorageRef storage)) throw bad("_rebuild_tensor_v2 of " + describe(a.get(0)) + ", not a storage");
            long offset = nonNegative(a.get(1), "storage offset");
            long[] size = longs(a.get(2), "size"), stride = longs(a.get(3), "stride");
            if (size.length != stride.length) {
                throw bad("a tensor with size " + Arrays.toString(size) + " and stride " + Arrays.toString(stride) + " (different ranks)");
            }
            return new TensorRef(storage, offset, size, stride);
        }
        // _rebuild_parameter(data, requires_grad, backward_hooks): the tensor itself
        if (a.size() != 3 || !(a.getFirst() instanceof TensorRef tensor)) {
            throw bad("_rebuild_parameter of " + describe(a.isEmpty() ? NONE : a.getFirst()) + ", not (tensor, requires_grad, hooks)");
        }
        return tensor;
    }

    /** BUILD sets attributes: on a state dict only its {@code _metadata} (module versions), which is dropped. */
    private void build(Object target, Object state) {
        if (!(target instanceof Map<?, ?>) || !(state instanceof Map<?, ?> s) || !s.keySet().stream().allMatch("_metadata"::equals)) {
            throw bad("BUILD of " + describe(target) + " with " + describe(state) + ": a state dict sets only its _metadata");
        }
    }

    private StorageRef persistentId(Object pid) {
        // ('storage', storage_type, key, location, numel)
        if (pid instanceof Tuple t && t.items().size() == 5 && "storage".equals(t.items().get(0))
                && t.items().get(1) instanceof Global type && t.items().get(2) instanceof String key
                && t.items().get(3) instanceof String) {
            TorchDType dtype = TorchDType.ofStorage(type.name());
            if (dtype == null || !type.module().equals("torch")) throw bad("a storage of type " + type.qualified());
            return new StorageRef(key, dtype, nonNegative(t.items().get(4), "storage size"));
        }
        throw bad("a persistent id " + describe(pid) + ", not ('storage', type, key, location, numel)");
    }

    private long nonNegative(Object v, String what) {
        if (v instanceof Long l && l >= 0) return l;
        throw bad("a tensor's " + what + " is " + describe(v) + ", not an integer >= 0");
    }

    private long[] longs(Object v, String what) {
        if (!(v instanceof Tuple t)) throw bad("a tensor's " + what + " is " + describe(v) + ", not a tuple");
        long[] out = new long[t.items().size()];
        for (int i = 0; i < out.length; i++) out[i] = nonNegative(t.items().get(i), what);
        return out;
    }

    private void putAll(Map<Object, Object> d, List<Object> items) {
        if (items.size() % 2 != 0) throw bad("SETITEMS with an odd number (" + items.size() + ") of keys and values");
        for (int i = 0; i < items.size(); i += 2) put(d, items.get(i), items.get(i + 1));
    }

    private void put(Map<Object, Object> d, Object key, Object value) {
        if (!hashable(key, 0)) throw bad("a dict key that is " + describe(key) + " (unhashable in Python, or nested too deep)");
        d.put(key, value);
    }

    /** Python's hashable values, as keys here: no list, dict or bytes inside, so hashing never loops. */
    private static boolean hashable(Object key, int depth) {
        if (key instanceof Tuple t) {
            if (depth >= 16) return false;
            for (Object o : t.items()) if (!hashable(o, depth + 1)) return false;
            return true;
        }
        return key instanceof String || key instanceof Long || key instanceof BigInteger || key instanceof Double
                || key instanceof Boolean || key == NONE;
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object v, String op) {
        if (v instanceof ArrayList<?> l) return (List<Object>) l;
        throw bad(op + " to " + describe(v) + ", not a list");
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dict(Object v, String op) {
        if (v instanceof LinkedHashMap<?, ?> m) return (Map<Object, Object>) m;
        throw bad(op + " to " + describe(v) + ", not a dict");
    }

    private Tuple tuple(int n) {
        if (stack.size() - n < floor()) throw bad("TUPLE" + n + " with fewer than " + n + " values on the stack");
        List<Object> items = new ArrayList<>(stack.subList(stack.size() - n, stack.size()));
        for (int i = 0; i < n; i++) stack.removeLast();
        return new Tuple(immutable(items));
    }

    private static List<Object> immutable(List<Object> items) {
        return java.util.Collections.unmodifiableList(items);
    }

    private Object memo(long index) {
        Object v = memo.get(index);
        if (v == null) throw bad("it reads memo entry " + index + ", which was never stored");
        return v;
    }

    private void push(Object v) {
        stack.add(v);
    }

    /** The lowest stack index the current mark lets an opcode pop. */
    private int floor() {
        return marks.isEmpty() ? 0 : marks.getLast();
    }

    private Object pop() {
        if (stack.size() <= floor()) throw bad("an opcode pops from an empty stack (or across a MARK)");
        return stack.removeLast();
    }

    private Object peek() {
        if (stack.size() <= floor()) throw bad("an opcode reads an empty stack (or across a MARK)");
        return stack.getLast();
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw bad("an opcode needs a MARK that was never set");
        int from = marks.removeLast();
        List<Object> items = new ArrayList<>(stack.subList(from, stack.size()));
        while (stack.size() > from) stack.removeLast();
        return items;
    }

    private int u8() {
        return in.get() & 0xff;
    }

    /** Checks that {@code n} more bytes are there and returns where they start. */
    private int checked(long n) {
        if (n < 0 || n > in.remaining()) throw bad("a value of " + n + " bytes runs past the end of the pickle (truncated)");
        int at = in.position();
        in.position(at + (int) n);
        return at;
    }

    private void skip(long n) {
        checked(n);
    }

    private int length(long n) {
        if (n < 0 || n > in.remaining()) throw bad("a length of " + n + " runs past the end of the pickle (truncated)");
        return (int) n;
    }

    private byte[] bytes(int n) {
        int at = checked(n);
        return Arrays.copyOfRange(in.array(), at, at + n);
    }

    private String utf8(int n) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes(n))).toString();
        } catch (CharacterCodingException e) {
            throw bad("a string that is not valid UTF-8");
        }
    }

    private String latin1(int n) {
        return new String(bytes(n), StandardCharsets.ISO_8859_1);
    }

    /** A newline-ended ASCII line (GLOBAL's module and name). */
    private String line() {
        int start = in.position();
        for (int i = start; i < in.limit() && i - start < 256; i++) {
            if (in.array()[i] == '\n') {
                in.position(i + 1);
                return new String(in.array(), start, i - start, StandardCharsets.ISO_8859_1);
            }
        }
        throw bad("a GLOBAL whose name has no end of line within 256 bytes");
    }

    /** LONG1/LONG4: little-endian two's complement of n bytes. */
    private Object longN(int n) {
        byte[] le = bytes(n);
        if (n == 0) return 0L;
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) be[i] = le[n - 1 - i];
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    private static String describe(Object v) {
        if (v == null) return "nothing";
        if (v instanceof String s) return "the string '" + TorchFileException.shown(s) + "'";
        if (v instanceof Tuple t) return "a tuple of " + t.items().size();
        if (v instanceof List<?> l) return "a list of " + l.size();
        if (v instanceof Map<?, ?> m) return "a dict of " + m.size();
        if (v instanceof Global g) return "the global " + g.qualified();
        if (v instanceof TensorRef) return "a tensor";
        if (v instanceof StorageRef) return "a storage";
        if (v instanceof byte[] b) return b.length + " bytes";
        return "the value " + v;
    }
}
