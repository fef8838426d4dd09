package lstmlm.fuzz;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every fuzz target fuzzed for a short fixed budget in each test run (the seeds alone replay in
 * regression mode, in the surefire execution for the "jazzer" tag). {@code -Dlstm.fuzz.seconds=N} sets
 * the budget, {@code -Dlstm.fuzz.targets=a,b} picks targets: {@code scripts/fuzz.sh} runs them as long
 * as asked. Each run's figures go to target/fuzz/stats.tsv.
 */
class FuzzBudgetTest {
    static List<String> targets() {
        String pick = System.getProperty("lstm.fuzz.targets", "");
        if (pick.isBlank()) return FuzzRunner.TARGETS;
        List<String> wanted = List.of(pick.split(","));
        return FuzzRunner.TARGETS.stream().filter(t -> wanted.stream().anyMatch(w -> t.endsWith("#" + w.trim()) || t.equals(w.trim()))).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("targets")
    void fuzzesWithoutAFinding(String target) throws IOException, InterruptedException {
        int seconds = Integer.getInteger("lstm.fuzz.seconds", 5);
        Path work = Path.of("target", "fuzz");
        FuzzRunner.Result r = FuzzRunner.run(target, seconds, work);
        System.out.println("fuzz " + r.summary());
        Files.writeString(work.resolve("stats.tsv"), String.join("\t", r.target(), Integer.toString(seconds),
                        Long.toString(r.executions()), Integer.toString(r.coverage()), Integer.toString(r.features()),
                        Integer.toString(r.corpus()), r.clean() ? "clean" : "finding " + r.crash()) + "\n",
                StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        assertTrue(r.clean(), () -> r.summary() + "\nTo replay it as a regression case, copy the input into "
                + "src/test/resources/" + target.substring(0, target.indexOf('#')).replace('.', '/') + "Inputs/"
                + target.substring(target.indexOf('#') + 1) + "/\n" + r.logTail());
        assertTrue(r.executions() > 0, () -> "no executions:\n" + r.logTail());
    }
}
