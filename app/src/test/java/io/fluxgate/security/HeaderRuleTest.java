package io.fluxgate.security;

import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import org.springframework.security.web.server.firewall.StrictServerWebExchangeFirewall;

import static org.assertj.core.api.Assertions.assertThat;

/** The firewall's header rules as loops accept exactly what Spring Security's own regexes accept. */
class HeaderRuleTest {

    @Test
    void agreesWithTheLibrarysRuleOnChosenValues() {
        List<String> values = List.of("", "Bearer abc.def-ghi_jkl", "text/html; q=0.9", "caf\u00e9", "\u65e5\u672c",
                "\uD83D\uDE00 smile", "tab\there", "\ttab first", "nul\u0000", "cr\rlf\n", "del\u007f", "c1\u0085", "\u0378unassigned",
                "lone \uD800 surrogate", "\uDB80\uDC00 private use", "\uFFFF");
        for (String value : values) {
            assertThat(SecurityConfiguration.printable(value, true)).as(value)
                    .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_VALUES.test(value));
            assertThat(SecurityConfiguration.printable(value, false)).as(value)
                    .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_NAMES.test(value));
        }
    }

    @Test
    void anAbsentHeaderPassesAsItDoesForTheLibrary() {
        assertThat(SecurityConfiguration.printable(null, true))
                .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_VALUES.test(null)).isTrue();
        assertThat(SecurityConfiguration.printable(null, false))
                .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_NAMES.test(null)).isTrue();
    }

    @Test
    void agreesWithTheLibrarysRuleOnRandomValues() {
        Random random = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            StringBuilder value = new StringBuilder();
            int length = random.nextInt(6);
            for (int j = 0; j < length; j++) {
                // Mostly the first plane, where control, unassigned and surrogate code units live,
                // with C0/C1 controls (tab among them) drawn often enough to matter.
                int pick = random.nextInt(8);
                int codePoint = pick == 0 ? random.nextInt(0xA0) : pick == 1 ? random.nextInt(0x110000) : random.nextInt(0x10000);
                value.appendCodePoint(codePoint);
            }
            String text = value.toString();
            assertThat(SecurityConfiguration.printable(text, true)).as("%s", text.codePoints().boxed().toList())
                    .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_VALUES.test(text));
            assertThat(SecurityConfiguration.printable(text, false)).as("%s", text.codePoints().boxed().toList())
                    .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_NAMES.test(text));
        }
    }
}
