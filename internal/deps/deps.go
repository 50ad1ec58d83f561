package deps
import (
 _ "github.com/nats-io/nats.go/jetstream"
 _ "github.com/nats-io/nats.go/micro"
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/sideshow/apns2"
 _ "firebase.google.com/go/v4/messaging"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/santhosh-tekuri/jsonschema/v6"
 _ "golang.org/x/net/http2"
 _ "github.com/golang-jwt/jwt/v4"
)
import (
 _ "k8s.io/api/apps/v1"
 _ "sigs.k8s.io/yaml"
 _ "github.com/prometheus/common/expfmt"
 _ "google.golang.org/api/option"
 _ "golang.org/x/oauth2"
 _ "golang.org/x/sync/errgroup"
)
