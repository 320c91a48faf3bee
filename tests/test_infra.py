"""infra/resources.yaml and the PynamoDB models describe the same tables: keys, indexes and projections."""
from __future__ import annotations

from scripts.bootstrap import load_template


def _model_shape(model) -> dict:
    meta = model._get_schema()
    keys = {k["AttributeName"]: k["KeyType"] for k in meta["key_schema"]}
    indexes = {
        index["index_name"]: ({k["AttributeName"]: k["KeyType"] for k in index["key_schema"]},
                              index["projection"]["ProjectionType"])
        for index in meta.get("global_secondary_indexes", [])
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in meta["attribute_definitions"]}
    return {"keys": keys, "indexes": indexes, "types": types}


def _template_shape(properties: dict) -> dict:
    keys = {k["AttributeName"]: k["KeyType"] for k in properties["KeySchema"]}
    indexes = {
        index["IndexName"]: ({k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]},
                             index["Projection"]["ProjectionType"])
        for index in properties.get("GlobalSecondaryIndexes", [])
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in properties["AttributeDefinitions"]}
    return {"keys": keys, "indexes": indexes, "types": types}


def test_every_model_has_a_table_with_the_same_keys_and_indexes():
    from chalicelib.tables import all_models

    tables = {
        resource["Properties"]["TableName"]["Fn::Sub"].replace("${Stage}", "local"): resource["Properties"]
        for resource in load_template()["Resources"].values() if resource["Type"] == "AWS::DynamoDB::Table"
    }
    models = {model.Meta.table_name: model for model in all_models()}
    assert set(tables) == set(models)
    for name, model in models.items():
        assert _model_shape(model) == _template_shape(tables[name]), name
        assert tables[name]["BillingMode"] == "PAY_PER_REQUEST"
        assert tables[name]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_resources_template_passes_cfn_lint():
    import subprocess
    import sys
    from pathlib import Path

    from scripts.bootstrap import RESOURCES_TEMPLATE

    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(RESOURCES_TEMPLATE)],
                          capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_tables_cloudformation_creates_are_the_ones_the_models_declare(aws):
    """Deployed into moto's CloudFormation (as the fixture did): the real tables match the models."""
    import boto3

    from chalicelib.tables import all_models

    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for model in all_models():
        table = dynamodb.describe_table(TableName=model.Meta.table_name)["Table"]
        deployed = {
            "keys": {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]},
            "indexes": {i["IndexName"]: ({k["AttributeName"]: k["KeyType"] for k in i["KeySchema"]},
                                         i["Projection"]["ProjectionType"])
                        for i in table.get("GlobalSecondaryIndexes", [])},
            "types": {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]},
        }
        assert deployed == _model_shape(model), model.Meta.table_name
