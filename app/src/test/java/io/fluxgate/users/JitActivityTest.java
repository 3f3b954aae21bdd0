package io.fluxgate.users;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.ObjectName;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The warm-up's stop rule: three quiet seconds in a row, where quiet is under 50 ms of compiling. */
class JitActivityTest {

    /** The JVM's compiler as the rule sees it: a running total of milliseconds spent compiling. */
    static final class CompilerClock implements CompilationMXBean {
        final AtomicLong total = new AtomicLong();
        final boolean monitored;

        CompilerClock(boolean monitored) {
            this.monitored = monitored;
        }

        @Override
        public String getName() {
            return "test clock";
        }

        @Override
        public boolean isCompilationTimeMonitoringSupported() {
            return monitored;
        }

        @Override
        public long getTotalCompilationTime() {
            return total.get();
        }

        @Override
        public ObjectName getObjectName() {
            return null;
        }
    }

    @Test
    void settlesAfterThreeQuietWindowsAndABusyOneStartsTheCountAgain() {
        CompilerClock clock = new CompilerClock(true);
        Warmup.JitActivity jit = new Warmup.JitActivity(clock);
        jit.sample();
        for (long spent : new long[] {800, 600, 10, 20, 400, 10, 49}) {
            clock.total.addAndGet(spent);
            jit.sample();
            assertThat(jit.settled()).as("after a window of %d ms", spent).isFalse();
        }
        clock.total.addAndGet(0);
        jit.sample();
        assertThat(jit.settled()).isTrue();
    }

    @Test
    void neverSettlesWithoutCompileTimeMonitoring() {
        CompilerClock clock = new CompilerClock(false);
        Warmup.JitActivity jit = new Warmup.JitActivity(clock);
        for (int i = 0; i < 10; i++) {
            jit.sample();
        }
        assertThat(jit.settled()).isFalse();
    }

    @Test
    void thisJvmReportsCompileTime() {
        // The rule relies on it; if a JVM stopped reporting, warm-ups would silently run their maximum.
        assertThat(ManagementFactory.getCompilationMXBean().isCompilationTimeMonitoringSupported()).isTrue();
    }
}
