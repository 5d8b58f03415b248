// DynamoDB Local on one address only (infra/local/dynamodb_local.py compiles and runs this).
//
// The jar's own main (ServerRunner) takes -port but no host: its Jetty server is built with
// `new Server(port)`, which listens on every interface, so anyone on the network could read and
// write the local database (-sharedDb, no authentication). This builds the same server from the
// same arguments, sets the host of its connector before it starts, then starts it as the jar's
// main does (telemetry is off: the stack passes -disableTelemetry).
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDBLocal {
    private LoopbackDynamoDBLocal() {}

    public static void main(String[] args) throws Exception {
        String host = System.getProperty("orderdesk.dynamodb.host", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server server = (Server) field.get(proxy);
        Connector[] connectors = server.getConnectors();
        if (connectors.length == 0) {
            throw new IllegalStateException("DynamoDB Local's server has no connector to bind");
        }
        for (Connector connector : connectors) {
            ((ServerConnector) connector).setHost(host);
        }
        proxy.start();
    }
}
