import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * Starts one OpenSearch 2.19 node from jars on the classpath, without the distribution or Bootstrap.
 *
 * Usage: java -cp 'lib-opensearch/*:classes' OpenSearchLauncher PATH_HOME
 * Settings come from PATH_HOME/config/opensearch.yml, logging from PATH_HOME/config/log4j2.properties.
 * Modules are passed as classpath plugins (Node's protected constructor), so nothing goes under modules/.
 * Lifecycle: runs until SIGTERM/SIGINT, then closes the node (flushes shards) and exits.
 */
public final class OpenSearchLauncher {
    /** 2.x class names (3.x renamed several to *ModulePlugin). Netty4Plugin provides HTTP and transport. */
    private static final String[] PLUGINS = {
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
    };

    /** Node's plugin-list constructor is protected: this subclass only exposes it. */
    static final class ClasspathPluginNode extends Node {
        ClasspathPluginNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: OpenSearchLauncher PATH_HOME");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        Path config = home.resolve("config");
        Files.createDirectories(home.resolve("modules"));
        Files.createDirectories(home.resolve("plugins"));

        // Must come first: anything logged before configure() otherwise fails the status logger.
        LogConfigurator.registerErrorListener();
        Settings input = Settings.builder().put("path.home", home.toString()).build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            input, Collections.emptyMap(), config, () -> "testenv");
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        LogConfigurator.configure(env);

        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        for (String name : PLUGINS) {
            plugins.add(Class.forName(name).asSubclass(Plugin.class));  // a missing module is fatal
        }

        final Node node = new ClasspathPluginNode(env, plugins);
        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "testenv-shutdown"));
        // Node threads are daemons: this non-daemon thread keeps the JVM alive (as Bootstrap does).
        Thread keepAlive = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "testenv-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();
        try {
            node.start();
        } catch (Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
    }
}
