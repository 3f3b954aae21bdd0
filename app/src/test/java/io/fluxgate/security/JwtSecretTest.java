package io.fluxgate.security;

import java.util.List;

import io.fluxgate.FluxgateApplication;
import org.junit.jupiter.api.Test;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.ClassPathResource;
import org.springframework.mock.env.MockEnvironment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JwtSecretTest {

    private final SecurityConfiguration configuration = new SecurityConfiguration();

    private static SecurityProperties withSecret(String secret) {
        return new SecurityProperties(secret, java.time.Duration.ofHours(1), "fluxgate", 4,
                new SecurityProperties.BootstrapAdmin("", ""), java.time.Duration.ofSeconds(2),
                new SecurityProperties.Hashing(64, 1000),
                new SecurityProperties.Throttle(10, 100, 100, 30, java.time.Duration.ofMinutes(15)), 10_000);
    }

    @Test
    void aShortSecretStopsStartUpOutsideDev() {
        assertThatThrownBy(() -> configuration.jwtSigningKey(withSecret("too-short"), new MockEnvironment()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("FLUXGATE_SECURITY_JWT_SECRET")
                .hasMessageContaining("at least 32 bytes");
    }

    /** The Kubernetes example Secret's value is 38 bytes long: length alone let it through. */
    @Test
    void placeholderSecretsStopStartUpOutsideDev() {
        for (String placeholder : List.of("REPLACE_ME-with-openssl-rand-base64-48", "changeme-changeme-changeme-changeme!",
                "my-example-jwt-secret-0123456789abcdef", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")) {
            assertThatThrownBy(() -> configuration.jwtSigningKey(withSecret(placeholder), new MockEnvironment()))
                    .as(placeholder)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("placeholder");
        }
        MockEnvironment dev = new MockEnvironment();
        dev.setActiveProfiles("dev");
        assertThat(configuration.jwtSigningKey(withSecret("REPLACE_ME-with-openssl-rand-base64-48"), dev).getEncoded())
                .as("dev replaces a placeholder with a random key").hasSize(32)
                .isNotEqualTo("REPLACE_ME-with-openssl-rand-base64-48".getBytes());
    }

    @Test
    void theDevProfileGetsARandomSecret() {
        MockEnvironment dev = new MockEnvironment();
        dev.setActiveProfiles("dev");
        byte[] first = configuration.jwtSigningKey(withSecret(""), dev).getEncoded();
        byte[] second = configuration.jwtSigningKey(withSecret(""), dev).getEncoded();
        assertThat(first).hasSize(32).isNotEqualTo(second);
    }

    @Test
    void aLongEnoughSecretIsUsedAsIs() {
        String secret = "0123456789abcdef0123456789abcdef";
        assertThat(configuration.jwtSigningKey(withSecret(secret), new MockEnvironment()).getEncoded())
                .isEqualTo(secret.getBytes());
    }

    @Test
    void theApplicationRefusesToStartWithoutASecret() {
        SpringApplication app = new SpringApplication(FluxgateApplication.class);
        app.setDefaultProperties(java.util.Map.of("spring.flyway.enabled", "false", "server.port", "0"));
        assertThatThrownBy(() -> app.run().close())
                .hasRootCauseInstanceOf(IllegalStateException.class)
                .rootCause().hasMessageContaining("FLUXGATE_SECURITY_JWT_SECRET");
    }

    @Test
    void productionDefaultsAreTheContractsOnes() throws Exception {
        StandardEnvironment environment = new StandardEnvironment();
        new YamlPropertySourceLoader().load("app", new ClassPathResource("application.yaml"))
                .forEach(environment.getPropertySources()::addLast);
        SecurityProperties defaults = Binder.get(environment).bind("fluxgate.security", SecurityProperties.class).get();
        assertThat(defaults.bcryptCost()).isEqualTo(12);
        assertThat(defaults.tokenTtl()).hasHours(1);
        assertThat(defaults.bootstrapAdmin().configured()).isFalse();
        assertThat(defaults.revocationCheckInterval()).isLessThanOrEqualTo(java.time.Duration.ofSeconds(4));
    }
}
