package io.fluxgate.security;

import java.util.List;

import org.junit.jupiter.api.Test;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.ClassPathResource;
import org.springframework.mock.env.MockEnvironment;

import io.fluxgate.FluxgateApplication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JwtSecretTest {

    private final SecurityConfiguration configuration = new SecurityConfiguration();

    private static SecurityProperties withSecret(String secret) {
        return new SecurityProperties(secret, java.time.Duration.ofHours(1), "fluxgate", List.of(), 4);
    }

    @Test
    void aShortSecretStopsStartUpOutsideDev() {
        assertThatThrownBy(() -> configuration.jwtSigningKey(withSecret("too-short"), new MockEnvironment()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("FLUXGATE_SECURITY_JWT_SECRET")
                .hasMessageContaining("at least 32 bytes");
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
    }
}
