package io.fluxgate.security;

import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import org.springframework.security.web.server.firewall.StrictServerWebExchangeFirewall;

import static org.assertj.core.api.Assertions.assertThat;

/** The firewall's header rule as a loop accepts exactly what Spring Security's own regex accepts. */
class HeaderRuleTest {

    @Test
    void agreesWithTheLibrarysRuleOnChosenValues() {
        List<String> values = List.of("", "Bearer abc.def-ghi_jkl", "text/html; q=0.9", "caf\u00e9", "\u65e5\u672c",
                "\uD83D\uDE00 smile", "tab\there", "nul\u0000", "cr\rlf\n", "del\u007f", "c1\u0085", "\u0378unassigned",
                "lone \uD800 surrogate", "\uDB80\uDC00 private use", "\uFFFF");
        for (String value : values) {
            assertThat(SecurityConfiguration.printable(value)).as(value)
                    .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_VALUES.test(value))
                    .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_NAMES.test(value));
        }
    }

    @Test
    void agreesWithTheLibrarysRuleOnRandomValues() {
        Random random = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            StringBuilder value = new StringBuilder();
            int length = random.nextInt(6);
            for (int j = 0; j < length; j++) {
                // Mostly the first planes, where control, unassigned and surrogate code units live.
                value.appendCodePoint(random.nextInt(4) == 0 ? random.nextInt(0x110000) : random.nextInt(0x10000));
            }
            String text = value.toString();
            assertThat(SecurityConfiguration.printable(text)).as("%s", text.codePoints().boxed().toList())
                    .isEqualTo(StrictServerWebExchangeFirewall.ALLOWED_HEADER_VALUES.test(text));
        }
    }
}
