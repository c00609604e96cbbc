"""The prediction server: routing by weight, shadow copies, micro-batching, the protocols it speaks
(Shipyard JSON, MLflow ``/invocations``, Open Inference Protocol v2) and its HTTP app."""
