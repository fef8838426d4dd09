package lstmlm.arch;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Data flows one way, data → model file → model → train / infer → serve → cli (interop: data, model file and
 * train's config → cli), and inference reaches the kernels only
 * through the model's layer sequence: read from the compiled classes' constant
 * pools (every class a class file names), so a stray import, a fully qualified name or a method
 * reference all count.
 */
class DependencyRulesTest {
    /** For each engine package, the project packages and libraries its classes must not name. */
    private static final Map<String, List<String>> FORBIDDEN = Map.of(
            "lstmlm/errors/", List.of("lstmlm/natives/", "lstmlm/kernels/", "lstmlm/data/", "lstmlm/modelfile/", "lstmlm/model/",
                    "lstmlm/train/", "lstmlm/infer/"),
            "lstmlm/natives/", List.of("lstmlm/kernels/", "lstmlm/data/", "lstmlm/modelfile/", "lstmlm/model/", "lstmlm/train/",
                    "lstmlm/infer/"),
            "lstmlm/kernels/", List.of("lstmlm/data/", "lstmlm/modelfile/", "lstmlm/model/", "lstmlm/train/", "lstmlm/infer/"),
            "lstmlm/data/", List.of("lstmlm/model/", "lstmlm/modelfile/", "lstmlm/train/", "lstmlm/infer/", "lstmlm/kernels/"),
            // the model file (format, checksums, quantization) is read by training, inference and eval alike
            "lstmlm/modelfile/", List.of("lstmlm/model/", "lstmlm/train/", "lstmlm/infer/"),
            "lstmlm/model/", List.of("lstmlm/train/", "lstmlm/infer/"),
            "lstmlm/train/", List.of("lstmlm/infer/"),
            // inference runs the model's layer sequence (LayerSequence), never a kernel of its own choosing
            "lstmlm/infer/", List.of("lstmlm/train/", "lstmlm/kernels/"),
            // the HTTP service stands on the inference API alone
            "lstmlm/serve/", List.of("lstmlm/train/", "lstmlm/kernels/", "lstmlm/model/", "lstmlm/natives/"),
            // PyTorch files in and out: bytes, the model file and its config, no compute
            "lstmlm/interop/", List.of("lstmlm/model/", "lstmlm/kernels/", "lstmlm/natives/", "lstmlm/infer/", "lstmlm/serve/"));
    /** What no engine package may name: the command line and the libraries only it receives. */
    private static final List<String> COMMAND_LINE = List.of("lstmlm/cli/", "lstmlm/report/", "picocli/",
            "me/tongfei/", "org/jline/", "org/knowm/", "de/erichseifert/");

    @Test
    void enginePackagesNameNothingAboveThemAndNothingOfTheCommandLine() throws Exception {
        Path classes = Path.of(lstmlm.model.Engine.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> violations = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                String name = classes.relativize(file).toString().replace('\\', '/');
                String pkg = FORBIDDEN.keySet().stream().filter(name::startsWith).findFirst().orElse(null);
                if (pkg == null) continue;
                checked++;
                List<String> banned = new ArrayList<>(FORBIDDEN.get(pkg));
                banned.addAll(COMMAND_LINE);
                if (!pkg.equals("lstmlm/serve/")) banned.add("lstmlm/serve/"); // nothing below the service names it
                if (!pkg.equals("lstmlm/interop/")) banned.add("lstmlm/interop/"); // only the command line imports and exports
                for (String used : namedClasses(file)) {
                    for (String b : banned) {
                        if (used.startsWith(b)) violations.add(name + " names " + used);
                    }
                }
            }
        }
        assertTrue(checked > 50, "found only " + checked + " engine classes under " + classes);
        assertEquals(List.of(), violations);
    }

    /** The passes hold only the math: timing wraps the products and the stages, outside them. */
    @Test
    void thePassesNameNoProfile() throws Exception {
        Path classes = Path.of(lstmlm.model.Engine.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        for (String pass : List.of("Passes", "CellRows")) {
            TreeSet<String> named = namedClasses(classes.resolve("lstmlm/model/" + pass + ".class"));
            assertTrue(named.contains("lstmlm/kernels/VectorMath"), "read the wrong class: " + named);
            assertTrue(!named.contains("lstmlm/model/StepProfile") && !named.contains("lstmlm/model/StepProfile$Part"),
                    pass + " names the profile: " + named);
        }
    }

    private static TreeSet<String> namedClasses(Path file) throws IOException {
        ClassModel model = ClassFile.of().parse(Files.readAllBytes(file));
        TreeSet<String> names = new TreeSet<>();
        for (PoolEntry e : model.constantPool()) {
            if (e instanceof ClassEntry c) names.add(c.asInternalName());
        }
        // descriptors of fields and methods name classes too (Lpkg/Name;)
        for (PoolEntry e : model.constantPool()) {
            if (e instanceof java.lang.classfile.constantpool.Utf8Entry u) {
                String s = u.stringValue();
                for (int i = s.indexOf('L'); i >= 0; i = s.indexOf('L', i + 1)) {
                    int end = s.indexOf(';', i);
                    if (end > i && s.startsWith("lstmlm/", i + 1) || end > i && s.startsWith("picocli/", i + 1)) {
                        names.add(s.substring(i + 1, end));
                    }
                }
            }
        }
        return names;
    }
}
